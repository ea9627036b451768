"""The demo: the bundled problem set through the bundled SmolLM2-135M (its closing reading is
``surestep.report.sentence.read_demo``).

The options are chosen for a 135M model on two CPU cores (docs/models.md, "The demo"): the
few-shot ``brief`` prompt, the stop rule that holds the end of text until an answer is
stated, 16 draws per request read from one shared prompt prefill, 4 requests per forward pass.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from surestep.runs.jobs import GenerationOptions

DEMO_DATASET = "demo.jsonl"
DEFAULT_OUT = Path("runs/demo")


def demo_dataset() -> str:
    """The bundled demo set's path (inside the installed package)."""
    return str(files("surestep.data").joinpath(DEMO_DATASET))


def demo_options(
    out: Path = DEFAULT_OUT,
    *,
    n: int = 16,
    max_tokens: int = 48,
    limit: int | None = None,
    device: str = "auto",
    invocation: dict[str, Any] | None = None,
) -> GenerationOptions:
    """The options of ``surestep run`` that make the demo."""
    return GenerationOptions(
        model="local:",
        dataset=demo_dataset(),
        out=out,
        n=n,
        max_tokens=max_tokens,
        limit=limit,
        device=device,
        subset_field="subset",
        prompt="brief",
        draws_per_request=16,
        local_batch=4,
        until_answer=True,
        invocation=invocation,
    )


__all__ = ["DEMO_DATASET", "demo_dataset", "demo_options"]
