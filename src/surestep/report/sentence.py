"""Plain-English readings of a run's headline figures (the last lines ``surestep demo`` prints).

``read_demo`` reads them off a scored run; the rest are pure functions of the figures: the
wording is chosen from the numbers, so it stays true whatever they are (no "but only" unless
the stable share really is smaller, no "0%" for a share that is merely under half a percent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


def share(value: float) -> str:
    """A fraction in [0, 1] as a whole percent that never rounds a nonzero share to 0%
    nor a partial one to 100%: 0.004 -> 'under 1%', 0.996 -> 'over 99%'."""
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"a share must lie in [0, 1], got {value!r}")
    if value in (0.0, 1.0):
        return f"{round(100 * value)}%"
    percent = round(100 * value)
    if percent == 0:
        return "under 1%"
    if percent == 100:
        return "over 99%"
    return f"{percent}%"


def no_answer_line(missing: int, total: int) -> str:
    """'draws without an answer: 83 of 510 (16%)'."""
    if total < 1 or not 0 <= missing <= total:
        raise ValueError(f"need 0 <= missing <= total and total >= 1, got {missing} of {total}")
    return f"draws without an answer: {missing:,} of {total:,} ({share(missing / total)})"


def _draws(k: int, n: int) -> str:
    return f"{k} sampled draws" if n == k else f"{k} draws picked at random from {n}"


def reading(
    *, k: int, n: int, problems: int, at_half: float, at_all: float, greedy: float | None = None
) -> str:
    """One sentence on greedy accuracy, G-Pass@k at tau 0.5 (``at_half``) and at tau 1.0 (``at_all``).

    ``n`` is the draws per problem the G-Pass figures come from; when it exceeds ``k`` the
    shares are expectations over random k-draw subsets, and the sentence says so.
    """
    if k < 1 or n < k or problems < 1:
        raise ValueError(f"need 1 <= k <= n and problems >= 1, got k={k}, n={n}, problems={problems}")
    if at_all > at_half:
        raise ValueError(f"G-Pass at tau 1.0 ({at_all}) cannot exceed G-Pass at tau 0.5 ({at_half})")
    half, every = share(at_half), share(at_all)
    if k == 1:
        where = "in its one sampled draw" if n == 1 else f"in one draw picked at random from {n}"
    else:
        where = f"in at least half of {_draws(k, n)}"
    smaller = greedy is not None and at_half < greedy and share(at_half) != share(greedy)

    def stable(only: str) -> str:
        if at_half == 0.0:
            return f"no problem is answered right {where}"
        expected = "" if n == k else "on average "
        text = f"{expected}{only}{half} are answered right {where}"
        if k > 1:
            text += f", and {'none' if at_all == 0.0 else every} in all {k}"
        return text

    if greedy is None:
        opening = f"Of the {problems} problems, " if problems > 1 else "Of the one problem, "
        return f"{opening}{stable('')}."
    whole = f"the {problems} problems" if problems > 1 else "the one problem"
    solved = "no problem" if greedy == 0.0 else f"{share(greedy)} of {whole}"
    link = "and" if at_half == 0.0 or share(at_half) == share(greedy) else "while"
    rest = f"but {stable('only ')}" if smaller else f"{link} {stable('')}"
    return f"Greedy decoding answers {solved} right, {rest}."


@dataclass(frozen=True)
class DemoReading:
    """What the demo says last: draws without an answer, and a sentence reading the figures."""

    without_answer: int
    draws: int
    sentence: str | None

    def lines(self) -> list[str]:
        line = no_answer_line(self.without_answer, self.draws)
        return [line] if self.sentence is None else [line, self.sentence]


def read_demo(out: Path) -> DemoReading:
    """The reading of a scored demo run (its results.json and its graded draws)."""
    from surestep.metrics.dataset import GREEDY_KEY, g_pass_key
    from surestep.runs.pipeline import scored_draws
    from surestep.runs.results import read_results
    from surestep.runs.runner import open_run

    store, manifest = open_run(out)
    with store:
        draws = scored_draws(store, manifest)
    results = read_results(out)
    k, figures = results.scored_with.headline_k, results.score.metrics
    at_half, at_all = figures.get(g_pass_key(k, 0.5)), figures.get(g_pass_key(k, 1.0))
    sentence = None
    if at_half is not None and at_all is not None:
        sentence = reading(
            k=k,
            n=results.score.n,
            problems=results.score.num_problems,
            at_half=at_half,
            at_all=at_all,
            greedy=figures.get(GREEDY_KEY),
        )
    return DemoReading(sum(d.answer is None for d in draws), len(draws), sentence)


__all__ = ["DemoReading", "no_answer_line", "read_demo", "reading", "share"]
