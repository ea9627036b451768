"""Scorers by name: how to build each, the model ids it expects and what each protocol implies.

The transformers families import torch and transformers only when one is built; listing them
(``surestep prm scorers``) imports neither.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surestep.errors import SurestepError
from surestep.prm.protocol import DEFAULT_PROTOCOL, PRMBENCH, PROTOCOLS, protocol_defaults, scorer_protocols
from surestep.prm.scorers.base import PRMScorer
from surestep.prm.scorers.critic import CriticScorer, load_few_shot
from surestep.prm.scorers.transformers_prm import TRANSFORMERS_SCORERS

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
        if scorer == CriticScorer.name:
            return {}
        return {"device": self.device if self.device_map is None else None, "device_map": self.device_map}

    def identity(self, scorer: str) -> dict[str, object]:
        """The options that change a scorer's outputs (a resumed run must keep them)."""
        if scorer == CriticScorer.name:
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
    """What ``surestep prm scorers`` lists for one scorer."""

    name: str
    models: tuple[str, ...]
    formats: Mapping[str, str]
    extra: str

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


SCORERS: dict[str, ScorerInfo] = {
    **{name: ScorerInfo(name, c.models, c.formats, "prm") for name, c in TRANSFORMERS_SCORERS.items()},
    CriticScorer.name: ScorerInfo(CriticScorer.name, CriticScorer.models, CriticScorer.formats, ""),
}


def build_scorer(name: str, model: str, options: PRMScorerConfig) -> PRMScorer:
    """Construct a registered scorer (this is where its optional dependencies get imported)."""
    if name not in SCORERS:
        raise SurestepError(f"unknown scorer {name!r} (known: {', '.join(sorted(SCORERS))})")
    if options.protocol not in PROTOCOLS:
        raise SurestepError(f"unknown protocol {options.protocol!r} (known: {', '.join(PROTOCOLS)})")
    if options.reward_differences and name != "skywork-prm":
        raise SurestepError("--reward-differences applies to the skywork-prm scorer only")
    if name == CriticScorer.name:
        if options.device_map is not None:
            raise SurestepError("--device-map applies to the transformers scorers, not critic")
        if not options.base_url:
            raise SurestepError("the critic scorer needs --base-url (an OpenAI-compatible server, …/v1)")
        if options.few_shot is not None and options.protocol == PRMBENCH:
            raise SurestepError(
                "--few-shot applies to the card protocol: under prmbench the critic sends its two "
                "PRMBench-style examples, as PRMBench always does"
            )
        return CriticScorer(
            model,
            protocol=options.protocol,
            base_url=options.base_url,
            api_key_env=options.api_key_env,
            concurrency=options.concurrency,
            max_tokens=options.max_tokens,
            few_shot=() if options.few_shot is None else load_few_shot(options.few_shot),
        )
    if options.few_shot is not None or options.base_url:
        raise SurestepError(f"--few-shot and --base-url apply to the critic scorer only, not {name}")
    family_options = {"reward_differences": True} if options.reward_differences else {}
    return TRANSFORMERS_SCORERS[name](
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
