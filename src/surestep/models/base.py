"""The generation protocol: what a backend is asked for and what it returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from surestep.errors import SurestepError


class GenerationError(SurestepError):
    """A request failed for good (after retries, or with an error that retrying cannot fix)."""


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings sent with every request. ``top_k=None`` leaves the server's default."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int | None = None
    max_tokens: int = 2048
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError("top_k must be >= 1")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data


@dataclass(frozen=True)
class GenerationRequest:
    """Draws of one prompt, one seed per draw (None: send no seed; the server picks).

    A backend that asks a server for several draws at once sends the first seed only, so it
    does that only where the server's rule gives each draw its own seed (vLLM: seed + i for
    choice i); the local backend seeds one generator for a whole batch with its first seed.
    """

    messages: tuple[tuple[str, str], ...]  # (role, content)
    params: SamplingParams
    seeds: tuple[int | None, ...]

    @property
    def count(self) -> int:
        return len(self.seeds)


@dataclass(frozen=True)
class Completion:
    """One draw. Tokens of a multi-draw request are shared out evenly over its draws.

    ``server`` names the server that produced it (``host:port``), None for a local model.
    """

    text: str
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_seconds: float = 0.0
    server: str | None = None


class Backend(Protocol):
    """A model that turns requests into completions; async so API backends can overlap."""

    name: str
    model: str
    max_draws_per_request: int
    max_concurrency: int

    async def generate(self, request: GenerationRequest) -> list[Completion]: ...

    async def aclose(self) -> None: ...

    def identity(self) -> dict[str, Any]:
        """What decides the model's outputs (goes into the run manifest; compared on resume)."""
        ...

    async def engines(self) -> list[dict[str, Any]]:
        """What runs the model, as far as it can be told: one record per server or device, each
        ``{"server": NAME, "reported": {...}}`` (informational; may differ between sessions)."""
        ...
