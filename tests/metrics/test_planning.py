"""Planning: the between/within variance split, checked exactly, by brute force and by simulation.

The simulation tests cut sub-runs out of a large synthetic run and compare the predicted
half-widths with those of the scoring code's own bootstrap (``score --ci``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from surestep.metrics import (
    ProblemOutcomes,
    StabilityProtocol,
    bootstrap_intervals,
    classes_from_answers,
    derived_figures,
    g_pass_at_k,
    maj_at_k,
    mg_pass_at_k,
    paired_bootstrap,
    pass_at_k,
    per_problem_scores,
)
from surestep.metrics import planning as pm
from surestep.metrics.dataset import GREEDY_KEY, avg_key, g_pass_key, maj_key, mg_pass_key, pass_key

KERNELS = {
    "pass": pm.pass_kernel,
    "G0.5": lambda k: pm.g_pass_kernel(k, 0.5),
    "G0.75": lambda k: pm.g_pass_kernel(k, 0.75),
    "G1": lambda k: pm.g_pass_kernel(k, 1.0),
    "mG": pm.mg_pass_kernel,
}


def binomial_table(n: int, p: np.ndarray) -> np.ndarray:
    """(len(p), n + 1) exact Binomial(n, p) probabilities."""
    c = np.arange(n + 1)
    combs = np.array([math.comb(n, x) for x in c], dtype=float)
    return combs * p[:, None] ** c * (1 - p[:, None]) ** (n - c)


def true_within(kernel: np.ndarray, n: int, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per problem: Var(U_n | p) and theta(p), by summing over every count c."""
    k = kernel.size - 1
    estimates = pm.kernel_estimate(kernel, n, np.arange(n + 1))
    theta = binomial_table(k, p) @ kernel
    return binomial_table(n, p) @ estimates**2 - theta**2, theta


def population(rng: np.random.Generator, size: int) -> np.ndarray:
    """True success probabilities: easy, hard and all-or-nothing problems mixed."""
    part = rng.choice(3, size=size, p=[0.5, 0.25, 0.25])
    easy, hard, polar = rng.beta(6, 2, size), rng.beta(1.5, 4, size), rng.beta(0.5, 0.5, size)
    return np.where(part == 0, easy, np.where(part == 1, hard, polar))


def simulate_run(rng: np.random.Generator, p: np.ndarray, draws: int) -> dict[str, np.ndarray]:
    """Graded draws with answers: the right answer with probability p, else one of three wrong
    answers (problem-specific weights) or, one time in ten, no answer; one greedy draw."""
    size = p.size
    correct = rng.random((size, draws)) < p[:, None]
    weights = rng.dirichlet([0.7, 0.7, 0.7], size).cumsum(axis=1)
    wrong = 1 + (rng.random((size, draws))[:, :, None] > weights[:, None, :]).sum(axis=2)
    answers = np.where(correct, 0, np.where(rng.random((size, draws)) < 0.1, -1, np.minimum(wrong, 3)))
    return {"correct": correct, "answers": answers, "greedy": rng.random(size) < p}


def outcomes_of(run: dict[str, np.ndarray], rows: np.ndarray | slice, n: int) -> ProblemOutcomes:
    answers = run["answers"][rows, :n]
    classes = classes_from_answers([[None if a < 0 else str(a) for a in row] for row in answers])
    correct = run["correct"][rows, :n]
    return ProblemOutcomes(
        n=n,
        correct_counts=correct.sum(axis=1),
        greedy_correct=run["greedy"][rows],
        answer_classes=classes,
        draw_correct=correct,
    )


def splits_of(outcomes: ProblemOutcomes, ks: tuple[int, ...]) -> dict[str, pm.VarianceSplit]:
    """Every headline figure's split, keyed as score keys them (avg under 'avg')."""
    n, c = outcomes.n, outcomes.correct_counts
    assert outcomes.greedy_correct is not None
    assert outcomes.answer_classes is not None
    assert outcomes.draw_correct is not None
    out = {
        GREEDY_KEY: pm.split_fixed(outcomes.greedy_correct, n),
        "avg": pm.split_counts(pm.MEAN_KERNEL, n, c),
    }
    for k in ks:
        out[pass_key(k)] = pm.split_counts(pm.pass_kernel(k), n, c)
        for tau in (0.5, 0.75, 1.0):
            out[g_pass_key(k, tau)] = pm.split_counts(pm.g_pass_kernel(k, tau), n, c)
        out[mg_pass_key(k)] = pm.split_counts(pm.mg_pass_kernel(k), n, c)
        out[maj_key(k)] = pm.split_majority(outcomes.answer_classes, outcomes.draw_correct, k)
    return out


# --- exact checks ----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 4, 7])
def test_kernels_reproduce_the_stability_estimators(k):
    n, c = 12, np.arange(13)
    assert pm.kernel_estimate(pm.pass_kernel(k), n, c) == pytest.approx(pass_at_k(n, c, k), abs=1e-13)
    assert pm.kernel_estimate(pm.mg_pass_kernel(k), n, c) == pytest.approx(mg_pass_at_k(n, c, k), abs=1e-13)
    for tau in (0.0, 0.25, 0.5, 0.75, 1.0):
        expected = g_pass_at_k(n, c, k, tau)
        assert pm.kernel_estimate(pm.g_pass_kernel(k, tau), n, c) == pytest.approx(expected, abs=1e-13)
    assert pm.kernel_estimate(pm.MEAN_KERNEL, n, c) == pytest.approx(c / n, abs=1e-13)


@pytest.mark.parametrize(("n", "k"), [(7, 3), (6, 2), (5, 1)])
def test_pair_moments_match_brute_force_over_pairs_of_subsets(n, k):
    for name, make in KERNELS.items():
        kernel = make(k)
        for c in range(n + 1):
            grades = [1] * c + [0] * (n - c)
            by_overlap: dict[int, list[float]] = {}
            for a in itertools.combinations(range(n), k):
                for b in itertools.combinations(range(n), k):
                    value = kernel[sum(grades[i] for i in a)] * kernel[sum(grades[i] for i in b)]
                    by_overlap.setdefault(len(set(a) & set(b)), []).append(value)
            for j, values in by_overlap.items():
                assert pm.pair_moments(kernel, n, [c], j)[0] == pytest.approx(np.mean(values), abs=1e-12), (
                    name,
                    c,
                    j,
                )


def test_overlap_moments_weighted_by_overlap_give_the_squared_estimator():
    """sum_j w_j(n) gamma_j(c) = U_n(c)^2, so within(n) per problem is U_n^2 - gamma_0."""
    n, k, c = 20, 8, np.arange(21)
    for make in KERNELS.values():
        kernel = make(k)
        moments = pm.overlap_moments(kernel, n, c)
        assert moments @ pm.overlap_weights(n, k) == pytest.approx(
            pm.kernel_estimate(kernel, n, c) ** 2, abs=1e-12
        )


def test_overlap_weights_are_the_hypergeometric_law():
    weights = pm.overlap_weights(48, 16)
    assert weights.sum() == pytest.approx(1.0, abs=1e-14)
    assert weights @ np.arange(17) == pytest.approx(16 * 16 / 48, abs=1e-12)
    assert pm.overlap_weights(16, 16).tolist() == [0.0] * 16 + [1.0]


@pytest.mark.parametrize(("n", "k"), [(20, 8), (16, 4), (12, 6), (9, 1)])
def test_within_estimate_is_exactly_unbiased_at_any_number_of_draws(n, k):
    """E over c ~ Binomial(n, p) of the estimated within variance at n' equals Var(U_n' | p)."""
    p = np.array([0.03, 0.3, 0.5, 0.77, 0.99])
    for make in [*KERNELS.values(), lambda _: pm.MEAN_KERNEL]:
        kernel = make(k)
        degree = kernel.size - 1
        moments = pm.overlap_moments(kernel, n, np.arange(n + 1))
        zeta = moments - moments[:, :1]
        for draws in sorted({degree, max(degree, n - 3), n, 2 * n, 5 * n}):
            truth, _ = true_within(kernel, draws, p)
            estimate = binomial_table(n, p) @ (zeta @ pm.overlap_weights(draws, degree))
            assert estimate == pytest.approx(truth, abs=1e-11)


def test_without_2k_draws_predictions_at_fewer_draws_stay_unbiased():
    """n < 2k: the split uses the fitted mixing law, but total(n') - total(n) for n' <= n does not."""
    n, k = 10, 8
    p = np.array([0.1, 0.45, 0.8, 0.95])
    prior = pm.fit_mixing_distribution(n, np.array([0, 3, 5, 8, 9, 10, 10, 2]))
    for make in KERNELS.values():
        kernel = make(k)
        moments = pm.overlap_moments(kernel, n, np.arange(n + 1), prior)
        squares = pm.kernel_estimate(kernel, n, np.arange(n + 1)) ** 2
        for draws in (k, 9, n):
            change = moments @ pm.overlap_weights(draws, k) - squares
            truth = true_within(kernel, draws, p)[0] - true_within(kernel, n, p)[0]
            assert binomial_table(n, p) @ change == pytest.approx(truth, abs=1e-11)


def test_mixing_distribution_finds_all_or_nothing_problems():
    counts = np.array([0] * 300 + [16] * 500 + [8] * 200)
    law = pm.fit_mixing_distribution(16, counts)
    atoms, weights = np.array(law.atoms), np.array(law.weights)
    assert weights[atoms == 0.0].sum() == pytest.approx(0.3, abs=0.02)
    assert weights[atoms == 1.0].sum() == pytest.approx(0.5, abs=0.02)
    assert law.posterior(16, [0])[0, atoms > 0.3].sum() < 1e-3


# --- the split on simulated problems whose true success probabilities are known -----------------


@pytest.mark.parametrize(("n", "k"), [(16, 4), (16, 8), (48, 16)])
def test_within_and_between_match_the_truth_when_p_is_known(n, k):
    rng = np.random.default_rng(11)
    p = population(rng, 3000)
    counts = rng.binomial(n, p)
    for name, make in KERNELS.items():
        kernel = make(k)
        split = pm.split_counts(kernel, n, counts)
        assert split.method == pm.OVERLAP
        moments = pm.overlap_moments(kernel, n, counts)
        per_problem = moments - moments[:, :1]
        for draws in (k, n, 3 * n):
            truth = true_within(kernel, draws, p)[0].mean()
            estimates = per_problem @ pm.overlap_weights(draws, k)
            se = estimates.std(ddof=1) / math.sqrt(p.size)
            assert split.within_at(draws) == pytest.approx(truth, abs=4 * se), (name, draws)
        theta = true_within(kernel, n, p)[1]
        assert split.between == pytest.approx(theta.var(ddof=1), rel=0.1), name


@pytest.mark.parametrize(("n", "k"), [(8, 8), (6, 4)])
def test_within_beyond_the_pilot_with_fewer_than_2k_draws_is_close(n, k):
    """Measured accuracy of the NPMLE completion on this population (docs/metrics.md quotes it)."""
    rng = np.random.default_rng(12)
    p = population(rng, 3000)
    counts = rng.binomial(n, p)
    for name in ("G0.5", "G0.75", "G1", "mG"):
        kernel = KERNELS[name](k)
        split = pm.split_counts(kernel, n, counts)
        assert split.method == pm.OVERLAP_COMPLETED
        for draws in (n, 2 * n, 4 * n):
            truth = true_within(kernel, draws, p)[0].mean()
            assert split.within_at(draws) == pytest.approx(truth, rel=0.2), (name, draws)


def test_majority_jackknife_is_close_and_errs_on_the_wide_side():
    rng = np.random.default_rng(13)
    p = population(rng, 150)
    n, k, reps = 16, 4, 120
    pilot = simulate_run(rng, p, n)
    classes = classes_from_answers([[None if a < 0 else str(a) for a in row] for row in pilot["answers"]])
    split = pm.split_majority(classes, pilot["correct"], k)
    assert split.method == pm.JACKKNIFE
    for draws in (n, 2 * n):
        fresh = simulate_run(rng, np.repeat(p, reps), draws)
        fresh_classes = classes_from_answers(
            [[None if a < 0 else str(a) for a in row] for row in fresh["answers"]]
        )
        values = maj_at_k(fresh_classes, fresh["correct"], k).reshape(p.size, reps)
        truth = values.var(axis=1, ddof=1).mean()
        assert 0.97 <= split.within_at(draws) / truth <= 1.35, draws


def test_greedy_has_no_within_part_and_ignores_n():
    values = np.array([1, 0, 1, 1, 0, 0, 1, 0], dtype=float)
    split = pm.split_fixed(values, n=16)
    assert (split.within, split.between, split.method) == (0.0, pytest.approx(values.var(ddof=1)), pm.FIXED)
    assert (
        split.halfwidth(8, 4)
        == split.halfwidth(8, 400)
        == pytest.approx(1.959964 * math.sqrt(split.total / 8))
    )
    assert pm.draws_for_halfwidth(split, 8, 0.5) is None


def test_majority_at_k_equal_to_n_is_predicted_at_the_pilot_n_only():
    classes = np.array([[0, 0, 1, 2], [0, 1, 1, -1], [0, 0, 0, 0]])
    correct = classes == 0
    split = pm.split_majority(classes, correct, 4)
    assert split.method == pm.UNKNOWN
    assert math.isnan(split.within)
    assert split.applies(4)
    assert not split.applies(8)
    assert split.variance_at(4) == pytest.approx(maj_at_k(classes, correct, 4).var(ddof=1))


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="between 1 and n"):
        pm.split_counts(pm.pass_kernel(8), 4, [1, 2])
    with pytest.raises(ValueError, match="at least 2 problems"):
        pm.split_counts(pm.pass_kernel(2), 4, [1])
    with pytest.raises(ValueError, match="target"):
        pm.problems_for_halfwidth(0.1, 0.0)
    with pytest.raises(ValueError, match="power"):
        pm.problems_to_detect(0.1, 0.03, 1.0)


# --- targets -----------------------------------------------------------------------------------


def test_targets_are_the_smallest_that_reach_them():
    rng = np.random.default_rng(14)
    p = population(rng, 400)
    split = pm.split_counts(pm.g_pass_kernel(8, 0.75), 16, rng.binomial(16, p))
    floor = pm.floor_halfwidth(split, 2000)
    target = floor * 1.05
    draws = pm.draws_for_halfwidth(split, 2000, target)
    assert draws is not None
    assert draws > 16
    assert split.halfwidth(2000, draws) <= target < split.halfwidth(2000, draws - 1)
    assert pm.draws_for_halfwidth(split, 2000, floor * 0.99) is None  # the between part alone is wider
    problems = pm.problems_for_halfwidth(split.variance_at(16), 0.02)
    assert problems is not None
    assert split.halfwidth(problems, 16) <= 0.02 < split.halfwidth(problems - 1, 16)


# --- validation against the scoring code's bootstrap on sub-runs of a large synthetic run -------


def _bootstrap_halfwidths(
    outcomes: ProblemOutcomes, protocol: StabilityProtocol, seed: int
) -> dict[str, float]:
    """Half of each interval's width, as ``surestep score --ci`` computes the intervals."""
    scores = per_problem_scores(outcomes, protocol)
    intervals = bootstrap_intervals(scores, derive=lambda m: derived_figures(m, protocol), seed=seed)
    return {key: (i.high - i.low) / 2 for key, i in intervals.items()}


@pytest.fixture(scope="module")
def large_run() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2024)
    return simulate_run(rng, population(rng, 6000), 64)


@pytest.mark.parametrize("pilot_draws", [16, 8])
def test_predicted_halfwidths_match_the_bootstrap_on_sub_runs(large_run, pilot_draws):
    """A pilot of 2000 problems predicts, within 15%, the bootstrap half-widths of sub-runs of
    other problems with other sizes (root mean square over disjoint sub-runs of each size).

    Exception: a figure with 2k > n (k = 8 from 8 draws) predicted beyond the pilot's n rests on
    the fitted mixing law; there the bound is 25% (measured: up to 18%, Pass@8 at n = 64)."""
    ks = (4, 8)
    splits = splits_of(outcomes_of(large_run, slice(0, 2000), pilot_draws), ks)
    protocol = StabilityProtocol(ks=ks, taus=(0.5, 0.75, 1.0))
    rest = np.arange(2000, 6000)
    naive_errors = []
    for problems, draws in [(100, 8), (250, 16), (200, 32), (500, 64)]:
        blocks = [rest[i * problems : (i + 1) * problems] for i in range(min(8, rest.size // problems))]
        widths: dict[str, list[float]] = {}
        for seed, rows in enumerate(blocks):
            for key, width in _bootstrap_halfwidths(
                outcomes_of(large_run, rows, draws), protocol, seed
            ).items():
                widths.setdefault(key, []).append(width)
        for key, split in splits.items():
            score_key = avg_key(draws) if key == "avg" else key
            if not split.applies(draws):
                assert key == maj_key(8)
                assert pilot_draws == 8
                continue
            bootstrap = math.sqrt(np.mean(np.square(widths[score_key])))
            predicted = split.halfwidth(problems, draws)
            model_based = split.method == pm.OVERLAP_COMPLETED and draws > pilot_draws
            tolerance = 0.25 if model_based else 0.15  # docs/metrics.md: beyond n with n < 2k
            assert predicted == pytest.approx(bootstrap, rel=tolerance), (key, problems, draws)
            if split.applies(pilot_draws):
                naive_errors.append(abs(split.halfwidth(problems, pilot_draws) / bootstrap - 1))
    if pilot_draws == 8:  # the check has teeth: ignoring how n changes the within part misses by > 15%
        assert max(naive_errors) > 0.3


def test_predicted_halfwidth_at_the_pilot_size_is_the_bootstraps(large_run):
    outcomes = outcomes_of(large_run, slice(0, 300), 16)
    splits = splits_of(outcomes, (4, 8, 16))
    protocol = StabilityProtocol(ks=(4, 8, 16), taus=(0.5, 0.75, 1.0))
    widths = _bootstrap_halfwidths(outcomes, protocol, seed=0)
    for key, split in splits.items():
        score_key = avg_key(16) if key == "avg" else key
        assert split.halfwidth(300, 16) == pytest.approx(widths[score_key], rel=0.1), key


# --- paired comparisons ------------------------------------------------------------------------


def test_problems_to_detect_give_the_power_of_the_paired_bootstrap():
    """Studies of the planned size call a true difference significant about `power` of the time."""
    rng = np.random.default_rng(15)
    n, k, tau = 16, 8, 0.5

    def pair(size: int) -> tuple[np.ndarray, np.ndarray]:
        """Counts of two models; B is better by 0.2 on the logit scale, give or take 0.6 per problem."""
        p = population(rng, size)
        logit = np.log(np.maximum(p, 1e-9)) - np.log(np.maximum(1 - p, 1e-9))
        better = 1 / (1 + np.exp(-(logit + 0.2 + rng.normal(0, 0.6, size))))
        return rng.binomial(n, p), rng.binomial(n, better)

    truth_a, truth_b = pair(400_000)
    delta = float(g_pass_at_k(n, truth_b, k, tau).mean() - g_pass_at_k(n, truth_a, k, tau).mean())
    pilot_a, pilot_b = pair(4000)
    kernel = pm.g_pass_kernel(k, tau)
    paired = pm.paired_split(
        pm.split_counts(kernel, n, pilot_a),
        pm.split_counts(kernel, n, pilot_b),
        g_pass_at_k(n, pilot_a, k, tau),
        g_pass_at_k(n, pilot_b, k, tau),
    )
    assert 0.5 < paired.correlation <= 1.0
    problems = pm.problems_to_detect(paired.variance_at(n), delta, 0.8)
    assert problems is not None
    significant = 0
    studies = 300
    for study in range(studies):
        a, b = pair(problems)
        result = paired_bootstrap(
            {"g": g_pass_at_k(n, a, k, tau)}, {"g": g_pass_at_k(n, b, k, tau)}, n_resamples=400, seed=study
        )
        significant += result["g"].significant
    assert significant / studies == pytest.approx(0.8, abs=0.075)
    unpaired = pm.problems_to_detect(pm.assumed_pair(paired.a, 0.0).variance_at(n), delta, 0.8)
    assert unpaired is not None
    assert unpaired > 1.5 * problems  # ignoring the correlation would plan for far too many problems
