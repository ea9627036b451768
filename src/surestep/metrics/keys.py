"""Metric keys: the typed name of a figure, its string form, and one table of what each metric means.

A figure is keyed in score sheets, ``results.json``, comparisons and best-of-N results by a
string such as ``G-Pass@16_0.5``. :class:`MetricKey` is that name as a record (metric, k, τ,
subset); ``str(key)`` writes the string form and :meth:`MetricKey.parse` reads it back, refusing
anything else with an error that says what was expected. :data:`METRICS` holds, for every
metric, its display label, a one-line description and its direction, so readers of a key
(tables, the report, ``compare``) look its meaning up instead of taking the string apart.

String forms (``k`` a positive integer written without sign or leading zeros, ``τ`` written as
``repr(float(τ))``, e.g. ``0.5``, ``1.0``)::

    greedy
    avg@16  pass@16  mG-Pass@16  maj@16  relative_drop@16
    G-Pass@16_0.75
    best_of_n@8  weighted_vote@8  majority@8  random@8     (best-of-N: k is N)
    <any of these>[<subset>]                                (the figure on one subset of problems)
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


def tau_label(tau: float) -> str:
    """0.5 -> '0.5', 1 -> '1.0', 0 -> '0.0' (the spelling used in metric keys)."""
    return repr(float(tau))


@dataclass(frozen=True)
class MetricInfo:
    """What one metric means: how it is shown, what it measures, which way is better."""

    name: str
    """The metric's spelling in keys (``G-Pass``, ``pass``, ``best_of_n``)."""
    label: str
    """Display label, a template over ``{k}`` and ``{tau}`` (``G-Pass@{k} τ={tau}``)."""
    description: str
    higher_is_better: bool
    takes_k: bool = True
    takes_tau: bool = False


def _table(*infos: MetricInfo) -> Mapping[str, MetricInfo]:
    return MappingProxyType({info.name: info for info in infos})


METRICS: Mapping[str, MetricInfo] = _table(
    MetricInfo("greedy", "Greedy", "Accuracy of the greedy (temperature 0) answer.", True, takes_k=False),
    MetricInfo("avg", "avg@{k}", "Mean accuracy over all n draws of each problem (k is n).", True),
    MetricInfo(
        "pass", "Pass@{k}", "Chance that at least one of k draws is correct (unbiased estimate).", True
    ),
    MetricInfo(
        "G-Pass",
        "G-Pass@{k} τ={tau}",
        "Chance that at least ⌈τ·k⌉ (at least one) of k draws are correct.",
        True,
        takes_tau=True,
    ),
    MetricInfo("mG-Pass", "mG-Pass@{k}", "G-Pass@k averaged over τ in (0.5, 1]: stability at high τ.", True),
    MetricInfo("maj", "maj@{k}", "Accuracy of the majority-voted answer among k draws.", True),
    MetricInfo(
        "relative_drop",
        "Rel. drop@{k}",
        "(Greedy − G-Pass@k τ=1) / Greedy: the share of greedy accuracy lost when all k draws must be right.",
        False,
    ),
    MetricInfo("best_of_n", "best-of-{k}", "Accuracy of the draw the verifier scores highest among N.", True),
    MetricInfo(
        "weighted_vote",
        "PRM-weighted vote@{k}",
        "Accuracy of the answer with the largest summed verifier score among N draws.",
        True,
    ),
    MetricInfo(
        "majority", "majority@{k}", "Accuracy of the majority-voted answer among N draws (maj@N).", True
    ),
    MetricInfo(
        "random", "random@{k}", "Accuracy of a draw picked at random among N (the mean accuracy).", True
    ),
)
"""Every metric a key can name, in display order."""

_INTEGER = r"[1-9][0-9]*"
_FORM = re.compile(
    rf"(?P<metric>[A-Za-z][A-Za-z_-]*?)(?:@(?P<k>{_INTEGER})(?:_(?P<tau>[0-9.e-]+))?)?"
    r"(?:\[(?P<subset>.+)\])?",
    re.DOTALL,
)


@dataclass(frozen=True)
class MetricKey:
    """The typed name of one figure: which metric, at which k and τ, on which subset of problems."""

    metric: str
    k: int | None = None
    tau: float | None = None
    subset: str | None = None
    """A subset label (``Level 5``); None for the figure over all problems."""

    def __post_init__(self) -> None:
        info = METRICS.get(self.metric)
        if info is None:
            raise ValueError(f"unknown metric {self.metric!r} (known: {', '.join(METRICS)})")
        if info.takes_k != (self.k is not None):
            raise ValueError(f"{self.metric} {'needs' if info.takes_k else 'takes no'} k")
        if self.k is not None:
            if isinstance(self.k, bool) or not isinstance(self.k, numbers.Integral) or self.k < 1:
                raise ValueError(f"k must be a positive integer, got {self.k!r}")
            object.__setattr__(self, "k", int(self.k))  # numpy integers too
        if info.takes_tau != (self.tau is not None):
            raise ValueError(f"{self.metric} {'needs' if info.takes_tau else 'takes no'} τ")
        if self.tau is not None:
            if not (math.isfinite(self.tau) and 0.0 <= self.tau <= 1.0):
                raise ValueError(f"τ must lie in [0, 1], got {self.tau!r}")
            object.__setattr__(self, "tau", float(self.tau))
        if self.subset is not None and not self.subset:
            raise ValueError("a subset label must not be empty")

    @property
    def info(self) -> MetricInfo:
        return METRICS[self.metric]

    @property
    def label(self) -> str:
        """Display label: ``G-Pass@16 τ=0.75``, ``Pass@16``, ``best-of-8``; a subset in brackets."""
        tau = "" if self.tau is None else tau_label(self.tau)
        text = self.info.label.format(k=self.k, tau=tau)
        return text if self.subset is None else f"{text} [{self.subset}]"

    @property
    def description(self) -> str:
        return self.info.description

    @property
    def higher_is_better(self) -> bool:
        return self.info.higher_is_better

    def __str__(self) -> str:
        text = self.metric
        if self.k is not None:
            text += f"@{self.k}"
        if self.tau is not None:
            text += f"_{tau_label(self.tau)}"
        return text if self.subset is None else f"{text}[{self.subset}]"

    @classmethod
    def parse(cls, key: str) -> MetricKey:
        """The key a string names; ValueError naming the string and what was expected otherwise."""
        match = _FORM.fullmatch(key)
        if match is None or match["metric"] not in METRICS:
            raise ValueError(
                f"not a metric key: {key!r} (expected <metric>[@k][_τ][[subset]], "
                f"metric one of {', '.join(METRICS)}; e.g. G-Pass@16_0.5, pass@8, greedy)"
            )
        tau = None
        if match["tau"] is not None:
            try:
                tau = float(match["tau"])
            except ValueError:
                raise ValueError(f"not a metric key: {key!r} (τ {match['tau']!r} is not a number)") from None
            if tau_label(tau) != match["tau"]:
                raise ValueError(
                    f"not a metric key: {key!r} (write τ as {tau_label(tau)}, not {match['tau']})"
                )
        try:
            return cls(
                match["metric"],
                None if match["k"] is None else int(match["k"]),
                tau,
                match["subset"],
            )
        except ValueError as exc:
            raise ValueError(f"not a metric key: {key!r} ({exc})") from None
