"""surestep: measure how reliably language models reason about mathematics."""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed metadata on first use (importlib.metadata is slow)."""
    if name != "__version__":
        raise AttributeError(f"module 'surestep' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("surestep")
    except PackageNotFoundError:  # running from a source tree without installation
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found
