"""Scorers by name: how to build each, and the model ids it expects (for ``surestep prm scorers``).

The transformers families import torch and transformers only when one is built.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from surestep.errors import SurestepError
from surestep.prm.scorers.base import PRMScorer
from surestep.prm.scorers.critic import CriticScorer, load_few_shot
from surestep.prm.scorers.transformers_prm import TRANSFORMERS_SCORERS


@dataclass(frozen=True)
class ScorerOptions:
    """Everything a scorer may use; each family takes what applies to it."""

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

    def identity(self, scorer: str) -> dict[str, object]:
        """The options that change a scorer's outputs (a resumed run must keep them)."""
        if scorer == CriticScorer.name:
            return {"few_shot": _digest(self.few_shot), "max_tokens": self.max_tokens}
        fields: dict[str, object] = {"tokenizer": self.tokenizer, "max_length": self.max_length}
        if scorer == "skywork-prm":
            fields["reward_differences"] = self.reward_differences
        return fields


def _digest(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise SurestepError(f"{path}: cannot read few-shot examples ({exc.strerror})") from None


@dataclass(frozen=True)
class ScorerInfo:
    name: str
    models: tuple[str, ...]
    description: str
    extra: str


SCORERS: dict[str, ScorerInfo] = {
    **{name: ScorerInfo(name, c.models, c.description, "prm") for name, c in TRANSFORMERS_SCORERS.items()},
    CriticScorer.name: ScorerInfo(CriticScorer.name, CriticScorer.models, CriticScorer.description, ""),
}


def build_scorer(name: str, model: str, options: ScorerOptions) -> PRMScorer:
    """Construct a registered scorer (this is where its optional dependencies get imported)."""
    if name not in SCORERS:
        raise SurestepError(f"unknown scorer {name!r} (known: {', '.join(sorted(SCORERS))})")
    if options.reward_differences and name != "skywork-prm":
        raise SurestepError("--reward-differences applies to the skywork-prm scorer only")
    if name == CriticScorer.name:
        if not options.base_url:
            raise SurestepError("the critic scorer needs --base-url (an OpenAI-compatible server, …/v1)")
        return CriticScorer(
            model,
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
        device=options.device,
        batch_tokens=options.batch_tokens,
        max_length=options.max_length,
        trust_remote_code=options.trust_remote_code,
        tokenizer=options.tokenizer,
        **family_options,
    )
