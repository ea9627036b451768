"""Backends by name; each is imported only when used, so optional dependencies stay optional."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from surestep.errors import SurestepError
from surestep.models.base import Backend

BACKENDS: dict[str, str] = {
    "openai": "surestep.models.openai_api:OpenAIBackend",
    "local": "surestep.models.local:LocalBackend",
    "vllm": "surestep.models.vllm_engine:VLLMBackend",
}


@dataclass(frozen=True)
class ModelSpec:
    backend: str
    model: str


def parse_model_spec(spec: str) -> ModelSpec:
    """``openai:NAME``, ``local:PATH_OR_HUB_ID`` (``local:`` alone is the bundled SmolLM2) or
    ``vllm:PATH_OR_HUB_ID`` (vLLM in this process)."""
    backend, sep, model = spec.partition(":")
    if not sep or backend not in BACKENDS:
        names = ", ".join(f"{name}:..." for name in BACKENDS)
        raise SurestepError(f"--model {spec!r}: expected one of {names}")
    if backend == "openai" and not model:
        raise SurestepError("--model openai:NAME needs the model name the server serves")
    if backend == "vllm" and not model:
        raise SurestepError("--model vllm:MODEL needs a Hub id or a model directory")
    return ModelSpec(backend, model)


def load_backend(spec: ModelSpec, **options: Any) -> Backend:
    module_name, _, class_name = BACKENDS[spec.backend].partition(":")
    module = importlib.import_module(module_name)
    backend: Backend = getattr(module, class_name)(spec.model, **options)
    return backend
