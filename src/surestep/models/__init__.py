"""Generation backends behind one protocol, registered by name and imported lazily."""

from surestep.models.base import (
    Backend,
    Completion,
    GenerationError,
    GenerationRequest,
    SamplingParams,
)
from surestep.models.registry import BACKENDS, ModelSpec, load_backend, parse_model_spec

__all__ = [
    "BACKENDS",
    "Backend",
    "Completion",
    "GenerationError",
    "GenerationRequest",
    "ModelSpec",
    "SamplingParams",
    "load_backend",
    "parse_model_spec",
]
