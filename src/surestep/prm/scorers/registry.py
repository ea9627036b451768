"""Scorers by name: how to build each, and the model ids it expects (for ``surestep prm scorers``)."""

from __future__ import annotations

from dataclasses import dataclass

from surestep.errors import SurestepError
from surestep.prm.scorers.base import PRMScorer
from surestep.prm.scorers.transformers_prm import TRANSFORMERS_SCORERS


@dataclass(frozen=True)
class ScorerOptions:
    """Everything a scorer may use; each family takes what applies to it."""

    device: str = "cpu"
    batch_tokens: int = 16384
    max_length: int | None = None
    trust_remote_code: bool = False
    tokenizer: str | None = None


@dataclass(frozen=True)
class ScorerInfo:
    name: str
    models: tuple[str, ...]
    description: str
    extra: str


SCORERS: dict[str, ScorerInfo] = {
    name: ScorerInfo(name, cls.models, cls.description, "prm") for name, cls in TRANSFORMERS_SCORERS.items()
}


def build_scorer(name: str, model: str, options: ScorerOptions) -> PRMScorer:
    """Construct a registered scorer (this is where its optional dependencies get imported)."""
    if name not in SCORERS:
        raise SurestepError(f"unknown scorer {name!r} (known: {', '.join(sorted(SCORERS))})")
    cls = TRANSFORMERS_SCORERS[name]
    return cls(
        model,
        device=options.device,
        batch_tokens=options.batch_tokens,
        max_length=options.max_length,
        trust_remote_code=options.trust_remote_code,
        tokenizer=options.tokenizer,
    )
