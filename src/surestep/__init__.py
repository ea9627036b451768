"""surestep: measure how reliably language models reason about mathematics.

The Python API (``surestep.run``, ``grade``, ``score``, ``prm_score``, ``report``, ``compare``;
see ``surestep.api`` and docs/python-api.md) is imported on first use, so ``import surestep``
loads nothing heavy.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from surestep.api import (
        CompareResult,
        CompletedRun,
        GradeResult,
        PRMScoreResult,
        ReportResult,
        RunResults,
        ScoreResult,
        compare,
        grade,
        prm_score,
        read_results,
        report,
        run,
        run_async,
        score,
    )

    __version__: str

__all__ = [
    "CompareResult",
    "CompletedRun",
    "DemoRun",
    "GradeResult",
    "PRMScoreResult",
    "ReportResult",
    "RunResults",
    "ScoreResult",
    "__version__",
    "bon",
    "compare",
    "demo",
    "demo_async",
    "grade",
    "plan",
    "prm_run",
    "prm_score",
    "read_results",
    "report",
    "run",
    "run_async",
    "score",
]
_API = frozenset(__all__) - {"__version__"}
"""Names of ``surestep.api`` exported here."""


def _version() -> str:
    """The installed version (importlib.metadata is slow, so it is read on first use)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("surestep")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    """``__version__`` and the API's names, imported the first time they are asked for."""
    if name == "__version__":
        value: Any = _version()
    elif name in _API:
        value = getattr(importlib.import_module("surestep.api"), name)
    else:
        raise AttributeError(f"module 'surestep' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """The ``surestep`` module, whose ``report`` stays the API function.

    Importing the ``surestep.report`` subpackage makes Python set the package's ``report``
    attribute to that subpackage; this property keeps ``surestep.report(...)`` the function. The
    subpackage is reached as always by ``from surestep.report import ...``.
    """

    @property
    def report(self) -> Any:
        return importlib.import_module("surestep.api").report

    @report.setter
    def report(self, value: Any) -> None:
        """Ignore the import system recording the subpackage (it stays in ``sys.modules``)."""


sys.modules[__name__].__class__ = _Package
