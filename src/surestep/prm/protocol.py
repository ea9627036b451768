"""Scoring protocols: how each PRM family is fed, read and judged, and where each default comes from.

``prmbench`` reproduces PRMBench's own model wrappers (``ssmisya/PRMBench`` at commit a1ae4ea,
``mr_eval/models/*.py``): their inputs, read positions, probability supports, thresholds, the
2,048-token cut and the dtypes they load, quirks included. ``card`` follows each model card's
stated intent. A table computed under ``prmbench`` is the one to set beside the paper's; one
computed under ``card`` is not. This module is data only: ``surestep prm scorers`` lists it
without importing torch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from surestep.errors import SurestepError

PRMBENCH = "prmbench"
CARD = "card"
PROTOCOLS = (PRMBENCH, CARD)
DEFAULT_PROTOCOL = CARD
"""For solutions that are not PRMBench's; ``prm run`` (PRMBench data) defaults to ``prmbench``."""
PRMBENCH_MAX_LENGTH = 2048
"""PRMBench cuts every input at 2,048 tokens: ``generation_config.max_length`` in
``mr_eval/tasks/prmtest_classified/config.yaml:5``, applied by the collator
(``mr_eval/tasks/base_dataset/base_evaluation_dataset.py:173-184``)."""
PRMBENCH_RECORDS = 6216
"""Records of the full benchmark, the data behind the paper's table."""
REWARD_DIFFERENCE_THRESHOLD = -0.05
"""PRMBench's decision on differences of consecutive Skywork rewards (``skywork_prm.py:39,104-105``)."""

_BASE = "mr_eval/models/abstract_model.py:17-18 (base defaults: validity 0.5, redundancy 0.15)"
_CUT = "mr_eval/tasks/prmtest_classified/config.yaml:5 + base_evaluation_dataset.py:173-184"
_CONTEXT = "the model's context (max_position_embeddings)"
_AUTO = "bfloat16 on GPU, float32 on CPU (surestep's choice)"
_NO_REDUNDANCY = "no redundancy scores"


@dataclass(frozen=True)
class Default:
    """One default and where it comes from (file and line, or the reason it was chosen)."""

    value: float | int | str | None
    source: str


@dataclass(frozen=True)
class ProtocolDefaults:
    """What a protocol implies for one scorer: thresholds, the cut, the dtype, what scores hold."""

    threshold: Default
    redundancy_threshold: Default
    """``value`` None: the scorer gives no redundancy scores (NR/NCL are judged on validity)."""
    truncation: Default
    """``value`` None: the model's context."""
    dtype: Default
    """``float32``, ``bfloat16`` or ``auto`` (bfloat16 on GPU, float32 on CPU)."""
    scores: str
    """What a step score is, in words."""

    def to_json(self) -> dict[str, Any]:
        """Every default with its source, for ``prm scorers --json`` and the run manifest."""
        return {
            "threshold": self.threshold.value,
            "redundancy_threshold": self.redundancy_threshold.value,
            "truncation": self.truncation.value,
            "dtype": self.dtype.value,
            "scores": self.scores,
            "sources": {
                "threshold": self.threshold.source,
                "redundancy_threshold": self.redundancy_threshold.source,
                "truncation": self.truncation.source,
                "dtype": self.dtype.source,
            },
        }


def _prmbench(
    threshold: float,
    threshold_source: str,
    dtype: str,
    dtype_source: str,
    scores: str,
    redundancy: Default | None = None,
) -> ProtocolDefaults:
    return ProtocolDefaults(
        threshold=Default(threshold, threshold_source),
        redundancy_threshold=redundancy or Default(None, _NO_REDUNDANCY),
        truncation=Default(PRMBENCH_MAX_LENGTH, _CUT),
        dtype=Default(dtype, dtype_source),
        scores=scores,
    )


def _card(threshold: float, source: str, scores: str, redundancy: Default | None = None) -> ProtocolDefaults:
    return ProtocolDefaults(
        threshold=Default(threshold, source),
        redundancy_threshold=redundancy or Default(None, _NO_REDUNDANCY),
        truncation=Default(None, _CONTEXT),
        dtype=Default("auto", _AUTO),
        scores=scores,
    )


_FP32 = "float32: from_pretrained without a dtype (transformers 4.x loads float32)"
_DEFAULTS: Mapping[str, Mapping[str, ProtocolDefaults]] = {
    "math-shepherd": {
        PRMBENCH: _prmbench(
            0.5,
            "mr_eval/models/math_shepherd.py:24,89",
            "float32",
            f"math_shepherd.py:36, {_FP32}",
            "p('+') over the '+'/'-' logits",
        ),
        CARD: _card(
            0.5,
            "model card (peiyi9979/math-shepherd-mistral-7b-prm): p('+') in [0, 1]",
            "p('+') over the '+'/'-' logits",
        ),
    },
    "qwen-prm": {
        PRMBENCH: _prmbench(
            0.5,
            "mr_eval/models/qwen_prm.py:31,116",
            "bfloat16",
            "qwen_prm.py:35-39",
            "p(class 1) of the 2-way head",
        ),
        CARD: _card(
            0.5,
            "model card (Qwen/Qwen2.5-Math-PRM-7B): p(positive) in [0, 1]",
            "p(class 1) of the 2-way head",
        ),
    },
    "rlhflow-prm": {
        PRMBENCH: _prmbench(
            0.5,
            "mr_eval/models/llama3_1_8b_prm.py:31,100",
            "float32",
            f"llama3_1_8b_prm.py:45, {_FP32}",
            "p('+') over the whole vocabulary",
        ),
        CARD: _card(
            0.5, "model card (RLHFlow/Llama3.1-8B-PRM-*): p('+') in [0, 1]", "p('+') over the '+'/'-' logits"
        ),
    },
    "reasoneval": {
        PRMBENCH: _prmbench(
            0.5,
            "mr_eval/models/reasoneval.py:27,119",
            "bfloat16",
            "reasoneval.py:32-34",
            "validity p(neutral) + p(positive); redundancy p(neutral)",
            Default(0.15, "mr_eval/models/reasoneval.py:26,118"),
        ),
        CARD: _card(
            0.5,
            "GAIR-NLP/ReasonEval codes/mr-math_eval.py:38-45 (validity 0.5)",
            "validity p(neutral) + p(positive); redundancy p(neutral)",
            Default(
                0.15,
                "GAIR-NLP/ReasonEval codes/mr-math_eval.py:224-233 (-p(neutral) > -0.15 is non-redundant)",
            ),
        ),
    },
    "skywork-prm": {
        PRMBENCH: _prmbench(
            REWARD_DIFFERENCE_THRESHOLD,
            "mr_eval/models/skywork_prm.py:39,104-105 (on [r1, r2 - r1, ...])",
            "float32",
            f"skywork_prm.py:47, {_FP32}",
            "reward differences: r1, then r_k - r_(k-1) (rewards are sigmoid(value head))",
        ),
        CARD: _card(
            0.5,
            "surestep's choice: the card (Skywork-o1-Open-PRM) gives rewards in [0, 1] "
            "and states no threshold",
            "the reward sigmoid(value head) in [0, 1]",
        ),
    },
    "llemma-prm": {
        PRMBENCH: _prmbench(
            0.5,
            "mr_eval/models/llemma7b_prm.py:25,115",
            "float32",
            f"llemma7b_prm.py:31-33, {_FP32}",
            "sigmoid(mean of the vocabulary logits)",
        ),
        CARD: _card(
            0.5,
            "surestep's choice: the card (ScalableMath/llemma-7b-prm-*) reads sigmoid scores "
            "and states no threshold",
            "sigmoid(mean of the vocabulary logits)",
        ),
    },
    "mathminos": {
        PRMBENCH: _prmbench(
            0.0,
            "mr_eval/models/mathminos_mistral.py:24,90 (on the raw logit)",
            "float32",
            f"mathminos_mistral.py:30-32, {_FP32}",
            "the raw logit of the 1-output head",
        ),
        CARD: _card(
            0.5,
            "KbsdJames/MATH-Minos RM/process_reward_modeling_pointwise.py:321 (trained with "
            "a sigmoid cross-entropy): sigmoid(logit) > 0.5",
            "sigmoid(logit) of the 1-output head",
        ),
    },
    "pure-prm": {
        PRMBENCH: _prmbench(
            0.0,
            "mr_eval/models/pure_prm.py:19,98 (on p(positive) - p(negative))",
            "bfloat16",
            "pure_prm.py:29-33",
            "the reward p(positive) - p(negative) in [-1, 1]",
        ),
        CARD: _card(
            0.5,
            "model card (jinachris/PURE-PRM-7B): reward p(positive) - p(negative) > 0, "
            "i.e. p(positive) > 0.5",
            "p(positive) of the 2-way head",
        ),
    },
    "critic": {
        PRMBENCH: ProtocolDefaults(
            threshold=Default(0.0, "mr_eval/models/openai_models.py:29,145 (on the raw score)"),
            redundancy_threshold=Default(0.0, "mr_eval/models/openai_models.py:30,146 (on the raw score)"),
            truncation=Default(None, "an API model: nothing is cut"),
            dtype=Default(None, "an API model"),
            scores="the reply's numbers as given (PRMBench asks for [-1, 1] and scores whatever comes)",
        ),
        CARD: ProtocolDefaults(
            threshold=Default(0.5, "surestep's critic: (s + 1) / 2 > 0.5 is the critic's own sign"),
            redundancy_threshold=Default(
                0.5, "surestep's critic: (r + 1) / 2 > 0.5 is the critic's own sign"
            ),
            truncation=Default(None, "an API model: nothing is cut"),
            dtype=Default(None, "an API model"),
            scores="(s + 1) / 2 for each reply value s in [-1, 1]",
        ),
    },
}

_SKYWORK_CARD_DIFFERENCES = ProtocolDefaults(
    threshold=Default(
        REWARD_DIFFERENCE_THRESHOLD, "mr_eval/models/skywork_prm.py:39,104-105 (--reward-differences)"
    ),
    redundancy_threshold=Default(None, _NO_REDUNDANCY),
    truncation=Default(None, _CONTEXT),
    dtype=Default("auto", _AUTO),
    scores="reward differences: r1, then r_k - r_(k-1) (--reward-differences)",
)


def scorer_protocols(scorer: str) -> Mapping[str, ProtocolDefaults]:
    """The protocols a scorer supports, each with its defaults."""
    try:
        return _DEFAULTS[scorer]
    except KeyError:
        raise SurestepError(f"no protocol defaults for scorer {scorer!r}") from None


def protocol_defaults(scorer: str, protocol: str, *, reward_differences: bool = False) -> ProtocolDefaults:
    """The defaults ``protocol`` implies for ``scorer`` (Skywork under ``card`` may use differences)."""
    if protocol not in PROTOCOLS:
        raise SurestepError(f"unknown protocol {protocol!r} (known: {', '.join(PROTOCOLS)})")
    if scorer == "skywork-prm" and protocol == CARD and reward_differences:
        return _SKYWORK_CARD_DIFFERENCES
    return scorer_protocols(scorer)[protocol]


_PRMBENCH_PREFIX = re.compile(r"^(?:step\s*\d+\.\s*|\d+\.\s*)", re.IGNORECASE)


def prmbench_strip(step: str) -> str:
    """PRMBench's step cleaning (``mr_eval/utils/model_utils.py:116-121``): outer whitespace goes,
    then one leading 'Step N.' or 'N.' -- so '7.8 km' loses '7.' and 'Step 2:' stays."""
    return _PRMBENCH_PREFIX.sub("", step.strip(), count=1)


@dataclass(frozen=True)
class Comparability:
    """Whether a table may be set beside PRMBench's published one, and why not."""

    comparable: bool
    reasons: tuple[str, ...]

    def sentence(self) -> str:
        if self.comparable:
            return "comparable with PRMBench's published table (its protocol and defaults)"
        return "NOT comparable with PRMBench's published table: " + "; ".join(self.reasons)


def comparability(
    manifest: Mapping[str, Any], *, threshold: float, redundancy_threshold: float | None
) -> Comparability:
    """Judge a PRM run (its manifest) scored at the given thresholds against PRMBench's protocol."""
    reasons = []
    protocol = manifest.get("protocol")
    if protocol is None:
        reasons.append("made before protocols existed (none recorded), not under prmbench")
    elif protocol != PRMBENCH:
        reasons.append(f"computed under the {protocol} protocol, not prmbench")
    defaults = manifest.get("defaults") or {}
    if protocol == PRMBENCH:
        if threshold != defaults.get("threshold"):
            reasons.append(f"threshold {threshold:g} instead of PRMBench's {defaults.get('threshold')}")
        expected_redundancy = defaults.get("redundancy_threshold")
        if expected_redundancy is not None and redundancy_threshold != expected_redundancy:
            reasons.append(
                f"redundancy threshold {redundancy_threshold:g} instead of PRMBench's {expected_redundancy}"
            )
        if manifest.get("max_length") is not None:
            reasons.append(
                f"inputs cut at --max-length {manifest['max_length']}, not at {PRMBENCH_MAX_LENGTH}"
            )
        if manifest.get("scorer") == "critic":
            reasons.append(
                "the critic's instruction and few-shot examples are surestep's own, in PRMBench's "
                "layout (close to PRMBench's LLM rows, not identical)"
            )
    records = manifest.get("records")
    if manifest.get("limit") is not None or (records is not None and records != PRMBENCH_RECORDS):
        scored = records if records is not None else "some"
        reasons.append(f"{scored} records scored; the paper's table covers all {PRMBENCH_RECORDS:,}")
    return Comparability(not reasons, tuple(reasons))


def run_thresholds(manifest: Mapping[str, Any]) -> tuple[float, float]:
    """The (validity, redundancy) thresholds a ``prm run``'s table is judged at by default.

    They are the defaults its protocol implies, as its manifest recorded them. Runs made before
    protocols existed have none recorded: 0.5, or -0.05 on reward differences, and 0.5.
    """
    defaults = manifest.get("defaults")
    if isinstance(defaults, Mapping) and defaults.get("threshold") is not None:
        redundancy = defaults.get("redundancy_threshold")
        return float(defaults["threshold"]), 0.5 if redundancy is None else float(redundancy)
    return (REWARD_DIFFERENCE_THRESHOLD if manifest.get("reward_differences") else 0.5), 0.5


def protocol_summary(
    manifest: Mapping[str, Any], *, threshold: float, redundancy_threshold: float
) -> dict[str, Any]:
    """What a table of a ``prm run`` says about how it was made (``protocol`` in ``--json``)."""
    defaults = manifest.get("defaults") or {}
    has_redundancy = defaults.get("redundancy_threshold") is not None
    verdict = comparability(
        manifest, threshold=threshold, redundancy_threshold=redundancy_threshold if has_redundancy else None
    )
    return {
        "protocol": manifest.get("protocol"),
        "defaults": dict(defaults),
        "threshold": threshold,
        "redundancy_threshold": redundancy_threshold if has_redundancy else None,
        "comparable_with_prmbench": verdict.comparable,
        "statement": verdict.sentence(),
    }


def describe_protocol(summary: Mapping[str, Any]) -> str:
    """One line for the foot of a table: the protocol, what it implied, and the comparability verdict."""
    defaults = summary.get("defaults") or {}
    parts = [f"protocol {summary.get('protocol') or 'none recorded (made before protocols)'}"]
    parts.append(f"threshold {summary['threshold']:g}")
    if summary.get("redundancy_threshold") is not None:
        parts.append(f"redundancy threshold {summary['redundancy_threshold']:g}")
    if defaults.get("truncation") is not None:
        parts.append(f"inputs cut at {defaults['truncation']:,} tokens")
    elif defaults.get("dtype") is not None:
        parts.append("inputs cut at the model's context")
    if defaults.get("dtype") == "auto":
        parts.append("bfloat16 on GPU, float32 on CPU")
    elif defaults.get("dtype") is not None:
        parts.append(str(defaults["dtype"]))
    return f"{', '.join(parts)}: {summary['statement']}"
