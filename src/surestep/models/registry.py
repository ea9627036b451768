"""Backends by name; each is imported only when used, so optional dependencies stay optional.

The built-in backends are a fixed table. Other packages add theirs through the entry point
group ``surestep.backends`` (name = ``"package.module:Class"``), read when a model spec is
parsed; a built-in name cannot be taken over. See docs/extending.md.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any

from surestep.errors import SurestepError
from surestep.models.base import Backend

BACKENDS: Mapping[str, str] = MappingProxyType(
    {
        "openai": "surestep.models.openai_api:OpenAIBackend",
        "local": "surestep.models.local:LocalBackend",
        "vllm": "surestep.models.vllm_engine:VLLMBackend",
    }
)
"""The built-in backends: name -> ``"module:Class"``."""

ENTRY_POINT_GROUP = "surestep.backends"


def available_backends() -> dict[str, str]:
    """The built-in backends and those installed packages declare in ``surestep.backends``."""
    found = dict(BACKENDS)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry.value)  # a built-in name keeps its built-in backend
    return found


@dataclass(frozen=True)
class ModelSpec:
    backend: str
    model: str


def parse_model_spec(spec: str) -> ModelSpec:
    """``openai:NAME``, ``local:PATH_OR_HUB_ID`` (``local:`` alone is the bundled SmolLM2) or
    ``vllm:PATH_OR_HUB_ID`` (vLLM in this process)."""
    backend, sep, model = spec.partition(":")
    known = BACKENDS if backend in BACKENDS else available_backends()
    if not sep or backend not in known:
        names = ", ".join(f"{name}:..." for name in known)
        raise SurestepError(f"--model {spec!r}: expected one of {names}")
    if backend == "openai" and not model:
        raise SurestepError("--model openai:NAME needs the model name the server serves")
    if backend == "vllm" and not model:
        raise SurestepError("--model vllm:MODEL needs a Hub id or a model directory")
    return ModelSpec(backend, model)


def load_backend(spec: ModelSpec, **options: Any) -> Backend:
    """Import the backend's module (only now) and construct it for ``spec.model``."""
    target = BACKENDS.get(spec.backend) or available_backends().get(spec.backend)
    if target is None:
        raise SurestepError(f"unknown backend {spec.backend!r}")
    module_name, _, class_name = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise SurestepError(f"backend {spec.backend!r} ({target}) cannot be loaded: {exc}") from None
    backend: Backend = factory(spec.model, **options)
    return backend
