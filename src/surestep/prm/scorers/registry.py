"""Scorers by name: how to build each, the model ids it expects and what each protocol implies.

The transformers families import torch and transformers only when one is built; listing them
(``surestep prm scorers``) imports neither.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from surestep.errors import SurestepError
from surestep.prm.protocol import (
    CARD,
    DEFAULT_PROTOCOL,
    PRMBENCH,
    PROTOCOLS,
    protocol_defaults,
    scorer_protocols,
)
from surestep.prm.scorers.base import PRMScorer

DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")
"""The placements accelerate computes (``from_pretrained(device_map=...)``)."""


@dataclass(frozen=True)
class PRMScorerConfig:
    """Everything a scorer may use; each family takes what applies to it."""

    protocol: str = DEFAULT_PROTOCOL
    device: str = "cpu"
    batch_tokens: int = 16384
    max_length: int | None = None
    trust_remote_code: bool = False
    tokenizer: str | None = None
    reward_differences: bool = False  # skywork-prm
    base_url: str | None = None  # critic
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 16
    max_tokens: int = 2048
    few_shot: Path | None = None
    device_map: str | None = None  # transformers families: accelerate's placement over several devices

    def placement(self, scorer: str) -> dict[str, object]:
        """Where a transformers scorer runs (for the manifest; it may change on resume)."""
        if scorer == CRITIC:
            return {}
        return {"device": self.device if self.device_map is None else None, "device_map": self.device_map}

    def identity(self, scorer: str) -> dict[str, object]:
        """The options that change a scorer's outputs (a resumed run must keep them)."""
        if scorer == CRITIC:
            return {
                "protocol": self.protocol,
                "few_shot": _digest(self.few_shot),
                "max_tokens": self.max_tokens,
            }
        fields: dict[str, object] = {
            "protocol": self.protocol,
            "tokenizer": self.tokenizer,
            "max_length": self.max_length,
        }
        if scorer == "skywork-prm":
            fields["reward_differences"] = self.reward_differences or self.protocol == PRMBENCH
        return fields

    def defaults(self, scorer: str) -> dict[str, Any]:
        """Every default the protocol implies for ``scorer``, with its source (for the manifest)."""
        return protocol_defaults(scorer, self.protocol, reward_differences=self.reward_differences).to_json()


def _digest(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise SurestepError(f"{path}: cannot read few-shot examples ({exc.strerror})") from None


@dataclass(frozen=True)
class ScorerInfo:
    """One row of the scorer table: the class that implements it (``"module:Class"``, imported
    only when a scorer is built), the extra it needs, the model ids it expects, and its input
    and reads per protocol."""

    name: str
    target: str
    extra: str
    models: tuple[str, ...]
    formats: Mapping[str, str]

    def load(self) -> Any:
        """Import the implementing class (with its module's dependencies)."""
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def to_json(self) -> dict[str, Any]:
        """Models, and per protocol: input and reads, thresholds, truncation, dtype, with sources."""
        return {
            "name": self.name,
            "models": list(self.models),
            "extra": self.extra,
            "protocols": {
                protocol: {"format": self.formats[protocol], **defaults.to_json()}
                for protocol, defaults in scorer_protocols(self.name).items()
            },
        }


_TABLE = (
    ScorerInfo(
        name="math-shepherd",
        target="surestep.prm.scorers.transformers_prm:MathShepherd",
        extra="prm",
        models=("peiyi9979/math-shepherd-mistral-7b-prm",),
        formats={
            CARD: "'{question} Step 1: {step} ки\\nStep 2: ...' (prefixes stripped, steps "
            "renumbered); p('+') from the softmax over the '+'/'-' logits at each 'ки'",
            PRMBENCH: "as card, but a step starting with 'Step'/'step' keeps its own text and the "
            "others keep theirs unstripped of '1.'-style prefixes; every 'ки' token is read, "
            "in order",
        },
    ),
    ScorerInfo(
        name="qwen-prm",
        target="surestep.prm.scorers.transformers_prm:QwenPRM",
        extra="prm",
        models=("Qwen/Qwen2.5-Math-PRM-7B", "Qwen/Qwen2.5-Math-PRM-72B"),
        formats={
            CARD: "chat template (system, user question, assistant steps each followed by "
            "'<extra_0>'); positive-class probability of the 2-way head at each '<extra_0>'",
            PRMBENCH: "as card, with PRMBench's step cleaning; every '<extra_0>' is read; the softmax "
            "is taken in bfloat16",
        },
    ),
    ScorerInfo(
        name="rlhflow-prm",
        target="surestep.prm.scorers.transformers_prm:RLHFlowPRM",
        extra="prm",
        models=("RLHFlow/Llama3.1-8B-PRM-Mistral-Data", "RLHFlow/Llama3.1-8B-PRM-Deepseek-Data"),
        formats={
            CARD: "chat turns: user 'question step 1', assistant '+', user 'step 2', assistant '+',"
            " ...; p('+') from the softmax over '+'/'-' at the position that predicts each "
            "assistant reply",
            PRMBENCH: "the same turns (PRMBench's step cleaning), read where the token pattern "
            "'<|start_header_id|>assistant<|end_header_id|>\\n\\n+<|eot_id|>' has its '\\n\\n'; "
            "p('+') over the whole vocabulary",
        },
    ),
    ScorerInfo(
        name="reasoneval",
        target="surestep.prm.scorers.transformers_prm:ReasonEval",
        extra="prm",
        models=("GAIR/ReasonEval-7B", "GAIR/ReasonEval-34B"),
        formats={
            CARD: "'Question:\\n{question}\\nAnswer:\\nLet\\'s think step by step.\\n' then the steps; "
            "3-way head (negative, neutral, positive) at each step's last token: validity = "
            "p(neutral) + p(positive), redundancy = p(neutral)",
            PRMBENCH: "the official indexing: steps joined by the pad token, separators dropped; the 7B"
            " (Mistral) model gets token 1 re-inserted without shifting indices, so each step"
            " is read at its second-to-last token; the softmax is taken in bfloat16",
        },
    ),
    ScorerInfo(
        name="skywork-prm",
        target="surestep.prm.scorers.transformers_prm:SkyworkPRM",
        extra="prm",
        models=("Skywork/Skywork-o1-Open-PRM-Qwen-2.5-1.5B", "Skywork/Skywork-o1-Open-PRM-Qwen-2.5-7B"),
        formats={
            CARD: "'{bos}{question}\\n' then each step followed by '\\n'; sigmoid of the value head "
            "at each step's '\\n' (--reward-differences: first reward, then differences of "
            "consecutive rewards)",
            PRMBENCH: "'Step k: {step} ки\\n' per step, split on 'ки' as Skywork's prepare_input does, "
            "so N steps give N+1 rewards; scores are r1, then differences of consecutive "
            "rewards",
        },
    ),
    ScorerInfo(
        name="llemma-prm",
        target="surestep.prm.scorers.transformers_prm:LlemmaPRM",
        extra="prm",
        models=(
            "ScalableMath/llemma-7b-prm-prm800k-level-1to3-hf",
            "ScalableMath/llemma-7b-prm-metamath-level-1to3-hf",
        ),
        formats={
            CARD: "'# Question\\n\\n{question}\\n\\n# Solution\\n\\n' then each step followed by '\\n\\n'; "
            "sigmoid of the mean of the vocabulary logits at the first token of each step's "
            "'\\n\\n' (tokenizer: EleutherAI/llemma_7b)",
            PRMBENCH: "the same text with blank lines deleted from steps; read at every '\\n\\n' from the"
            " one after '# Solution' on, so step k is read where step k-1 ends and N steps "
            "give N+1 reads",
        },
    ),
    ScorerInfo(
        name="mathminos",
        target="surestep.prm.scorers.transformers_prm:MathMinos",
        extra="prm",
        models=("MATH-Minos Mistral-7B PRM (KbsdJames/MATH-Minos; trained locally, no Hub checkpoint)",),
        formats={
            CARD: "'Human: {question}\\n\\nAssistant:' then 'Step i: {step} и\\n' per step; "
            "token-classification head with one output, read at each 'и' as sigmoid(logit) "
            "(logit > 0 is a correct step)",
            PRMBENCH: "the same text with PRMBench's step cleaning; every 'и' is read; the score is the"
            " raw logit, judged at 0",
        },
    ),
    ScorerInfo(
        name="pure-prm",
        target="surestep.prm.scorers.transformers_prm:PurePRM",
        extra="prm",
        models=("jinachris/PURE-PRM-7B",),
        formats={
            CARD: "question tokens, then each step's tokens followed by the '\\n\\n' token; 2-way "
            "token classification at each '\\n\\n': p(positive) = (reward + 1) / 2 for the "
            "card's reward p(positive) - p(negative)",
            PRMBENCH: "the same, with the steps' raw text (no prefix stripped); the score is the reward"
            " p(positive) - p(negative) computed in bfloat16, judged at 0",
        },
    ),
    ScorerInfo(
        name="critic",
        target="surestep.prm.scorers.critic:CriticScorer",
        extra="",
        models=("any chat model on an OpenAI-compatible server (--base-url)",),
        formats={
            CARD: "our prompt (+ optional --few-shot examples) asks for JSON {validity: [...], "
            "redundancy: [...]} in [-1, 1] per step; scores are (s + 1) / 2; wrong-length or "
            "malformed replies are invalid",
            PRMBENCH: "PRMBench's layout and user turn with our instruction and two examples in its "
            "format; replies read as PRMBench reads them, scored as given (any length), "
            "judged at 0",
        },
    ),
)
SCORERS: Mapping[str, ScorerInfo] = MappingProxyType({info.name: info for info in _TABLE})
"""Every scorer by name; listing and describing them (``surestep prm scorers``) imports none."""
CRITIC = "critic"


def build_scorer(name: str, model: str, options: PRMScorerConfig) -> PRMScorer:
    """Construct a registered scorer (this is where its optional dependencies get imported)."""
    if name not in SCORERS:
        raise SurestepError(f"unknown scorer {name!r} (known: {', '.join(sorted(SCORERS))})")
    if options.protocol not in PROTOCOLS:
        raise SurestepError(f"unknown protocol {options.protocol!r} (known: {', '.join(PROTOCOLS)})")
    if options.reward_differences and name != "skywork-prm":
        raise SurestepError("--reward-differences applies to the skywork-prm scorer only")
    if name == CRITIC:
        if options.device_map is not None:
            raise SurestepError("--device-map applies to the transformers scorers, not critic")
        if not options.base_url:
            raise SurestepError("the critic scorer needs --base-url (an OpenAI-compatible server, …/v1)")
        if options.few_shot is not None and options.protocol == PRMBENCH:
            raise SurestepError(
                "--few-shot applies to the card protocol: under prmbench the critic sends its two "
                "PRMBench-style examples, as PRMBench always does"
            )
        from surestep.prm.scorers.critic import load_few_shot

        critic: PRMScorer = SCORERS[CRITIC].load()(
            model,
            protocol=options.protocol,
            base_url=options.base_url,
            api_key_env=options.api_key_env,
            concurrency=options.concurrency,
            max_tokens=options.max_tokens,
            few_shot=() if options.few_shot is None else load_few_shot(options.few_shot),
        )
        return critic
    if options.few_shot is not None or options.base_url:
        raise SurestepError(f"--few-shot and --base-url apply to the critic scorer only, not {name}")
    family_options = {"reward_differences": True} if options.reward_differences else {}
    scorer: PRMScorer = SCORERS[name].load()(
        model,
        protocol=options.protocol,
        device=options.device,
        batch_tokens=options.batch_tokens,
        max_length=options.max_length,
        trust_remote_code=options.trust_remote_code,
        tokenizer=options.tokenizer,
        device_map=options.device_map,
        **family_options,
    )
    return scorer
