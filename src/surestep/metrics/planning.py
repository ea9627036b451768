"""Planning a study: how a figure's interval narrows with more problems and more draws.

A dataset figure is the mean over P problems of a per-problem estimate X from n draws. Its
variance across problems splits in two (law of total variance, problems i.i.d., draws
i.i.d. given the problem):

    Var(X) = Var_p(theta(p)) + E_p[Var(X | p)] = between + within(n)

Pass@k, G-Pass@k_tau, mG-Pass@k and avg@n are U-statistics: the mean over all k-subsets A of
the n draws of a kernel g(number correct in A), unbiased for the problem's true value theta.
For a U-statistic, E[U_n^2] = sum_j w_j(n) gamma_j, where w_j(n) is the chance that two
random k-subsets of n draws share j draws (hypergeometric) and gamma_j = E[g(A) g(B)] for
two k-subsets sharing j draws; gamma_0 = theta^2. So

    Var(U_n | p) = sum_j w_j(n) (gamma_j - gamma_0)       (the Hoeffding decomposition)

Each gamma_j is estimated without bias from the n draws by averaging g(A) g(B) over every
pair of k-subsets of the n draws that share j draws (possible when 2k - j <= n). This
gives the within part at any n' >= k, and between = sample variance - within(n). When
2k - j > n (few draws, large k) the missing 2k - j - n draws are filled in from their
posterior predictive under a nonparametric maximum-likelihood estimate of the distribution
of the problems' success probabilities (empirical Bayes): only those gamma_j are
model-based, and only predictions for n' > n, and the split itself, use them.

maj@k is also a U-statistic, but of a kernel over answer classes; its within part at n is
the delete-one jackknife over draws and is scaled as 1/n (the first Hoeffding term) to
other n. Greedy is one draw per problem: n does not apply and all its variance is between.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from surestep.metrics.majority import maj_at_k
from surestep.metrics.stability import required_correct

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Rows of leave-one-out class arrays built at once for the maj@k jackknife.
_JACKKNIFE_ROWS = 1 << 15
# Largest n searched for the draws that reach a target half-width.
DRAW_SEARCH_LIMIT = 1 << 20

OVERLAP = "overlap"
"""Within part from unbiased pair moments of the kernel (n >= 2k - j for every j used)."""
OVERLAP_COMPLETED = "overlap+npmle"
"""As OVERLAP, with the pair moments that need more than n draws completed from a fitted mixing law."""
JACKKNIFE = "jackknife"
"""Within part from the delete-one jackknife over draws at n, scaled as 1/n (maj@k)."""
FIXED = "fixed"
"""One draw per problem (greedy): n does not apply, all variance is between problems."""
UNKNOWN = "unknown"
"""No within estimate (maj@k with k = n): predictions only at the pilot's n."""


# --- kernels ---------------------------------------------------------------------------------


def threshold_kernel(k: int, m: int) -> FloatArray:
    """g(s) = 1 if s >= m else 0, for s = 0..k correct draws among k."""
    return (np.arange(k + 1) >= m).astype(np.float64)


def pass_kernel(k: int) -> FloatArray:
    """Kernel of Pass@k: at least one of k draws correct."""
    return threshold_kernel(k, 1)


def g_pass_kernel(k: int, tau: float) -> FloatArray:
    """Kernel of G-Pass@k_tau: at least max(ceil(tau k), 1) of k draws correct."""
    return threshold_kernel(k, int(required_correct(k, tau)))


def mg_pass_kernel(k: int) -> FloatArray:
    """Kernel of mG-Pass@k: (2/k) * #{m in ceil(k/2)+1..k : s >= m} = (2/k) max(0, s - ceil(k/2))."""
    s = np.arange(k + 1)
    return 2.0 * np.maximum(0, s - (k + 1) // 2) / k


MEAN_KERNEL: FloatArray = np.array([0.0, 1.0])
"""Kernel of avg@n: one draw, its grade (degree 1)."""


# --- exact probability helpers ---------------------------------------------------------------


def _log_factorials(limit: int) -> FloatArray:
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, limit + 1, dtype=np.float64)))])


def hypergeom_pmf(
    x: npt.ArrayLike, population: npt.ArrayLike, successes: npt.ArrayLike, draws: npt.ArrayLike
) -> FloatArray:
    """P(X = x), X ~ Hypergeometric(population, successes, draws); broadcasts; 0 off the support."""
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.int64) for a in (x, population, successes, draws)))
    xs, big_n, big_k, d = arrays
    valid = (
        (xs >= 0) & (xs <= d) & (big_k >= 0) & (big_k <= big_n) & (xs <= big_k) & (d - xs <= big_n - big_k)
    )
    lf = _log_factorials(int(big_n.max(initial=0)))

    def log_comb(a: IntArray, b: IntArray) -> FloatArray:
        a_, b_ = np.where(valid, a, 0), np.where(valid, b, 0)
        return np.asarray(lf[a_] - lf[b_] - lf[np.maximum(a_ - b_, 0)], dtype=np.float64)

    logp = log_comb(big_k, xs) + log_comb(big_n - big_k, d - xs) - log_comb(big_n, d)
    return np.where(valid, np.exp(logp), 0.0)


def binomial_pmf(x: npt.ArrayLike, trials: int, p: npt.ArrayLike) -> FloatArray:
    """P(X = x), X ~ Binomial(trials, p); broadcasts over x and p (p may be exactly 0 or 1)."""
    xs, ps = np.broadcast_arrays(np.asarray(x, dtype=np.int64), np.asarray(p, dtype=np.float64))
    inside = (xs >= 0) & (xs <= trials)
    xc = np.clip(xs, 0, trials)
    lf = _log_factorials(trials)
    safe = np.clip(ps, np.finfo(np.float64).tiny, 1.0 - np.finfo(np.float64).eps)
    logp = lf[trials] - lf[xc] - lf[trials - xc] + xc * np.log(safe) + (trials - xc) * np.log1p(-safe)
    impossible = ((ps <= 0) & (xc > 0)) | ((ps >= 1) & (xc < trials))
    certain = ((ps <= 0) & (xc == 0)) | ((ps >= 1) & (xc == trials))
    return np.where(inside & ~impossible, np.where(certain, 1.0, np.exp(logp)), 0.0)


def overlap_weights(n: int, k: int) -> FloatArray:
    """w_j(n), j = 0..k: the chance that two random k-subsets of n draws share exactly j draws."""
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    total = math.comb(n, k)
    return np.array([math.comb(k, j) * math.comb(n - k, k - j) / total for j in range(k + 1)])


# --- pair moments ----------------------------------------------------------------------------


def kernel_estimate(kernel: FloatArray, n: int, counts: npt.ArrayLike) -> FloatArray:
    """U_n: the mean of the kernel over every k-subset of n draws with c correct (per problem)."""
    k = kernel.size - 1
    c = np.asarray(counts, dtype=np.int64)[:, None]
    pmf = hypergeom_pmf(np.arange(k + 1)[None, :], n, c, k)
    return np.asarray(pmf @ kernel, dtype=np.float64)


def pair_moments(kernel: FloatArray, population: int, successes: npt.ArrayLike, overlap: int) -> FloatArray:
    """Mean of g(A) g(B) over all pairs of k-subsets A, B of ``population`` draws sharing ``overlap``.

    ``successes`` (an array) is the number of correct draws in the population. The shared
    draws, A's own and B's own are three disjoint groups of sizes j, k - j, k - j drawn
    without replacement, so their correct counts S, T, U are sequential hypergeometrics.
    Needs population >= 2k - j.
    """
    k, j = kernel.size - 1, overlap
    if population < 2 * k - j:
        raise ValueError(f"pairs of {k}-subsets sharing {j} draws need {2 * k - j} draws, got {population}")
    c = np.asarray(successes, dtype=np.int64).reshape(-1, 1, 1, 1)
    s = np.arange(j + 1).reshape(1, -1, 1, 1)
    t = np.arange(k - j + 1).reshape(1, 1, -1, 1)
    u = np.arange(k - j + 1).reshape(1, 1, 1, -1)
    prob = (
        hypergeom_pmf(s, population, c, j)
        * hypergeom_pmf(t, population - j, c - s, k - j)
        * hypergeom_pmf(u, population - k, c - s - t, k - j)
    )
    products = kernel[s + t] * kernel[s + u]
    return np.asarray((prob * products).sum(axis=(1, 2, 3)), dtype=np.float64)


@dataclass(frozen=True)
class MixingDistribution:
    """A discrete distribution of the problems' true success probabilities: atoms and their weights."""

    atoms: tuple[float, ...]
    weights: tuple[float, ...]

    def posterior(self, n: int, counts: npt.ArrayLike) -> FloatArray:
        """(len(counts), atoms) posterior weights of each atom given c correct out of n."""
        likelihood = binomial_pmf(np.asarray(counts)[:, None], n, np.asarray(self.atoms)[None, :])
        joint = likelihood * np.asarray(self.weights)[None, :]
        return np.asarray(joint / joint.sum(axis=1, keepdims=True), dtype=np.float64)


MIXING_GRID = 201
"""Atoms of the mixing distribution's grid: 0, 0.005, ..., 1."""


def fit_mixing_distribution(
    n: int, counts: npt.ArrayLike, *, grid: int = MIXING_GRID, tolerance: float = 1e-10, max_iter: int = 5000
) -> MixingDistribution:
    """Nonparametric maximum-likelihood estimate (NPMLE) of the distribution of success probabilities.

    The problems' counts are Binomial(n, p) with p drawn from an unknown distribution G;
    G is estimated on a grid of atoms in [0, 1] by EM, weights updated as
    w_g <- w_g * mean_i(L_ig / sum_h L_ih w_h), until the log-likelihood gains less than
    ``tolerance``. No shape is assumed: atoms at 0 and 1 (problems never or always solved)
    and several modes are found when the data hold them.
    """
    unique, multiplicity = np.unique(np.asarray(counts, dtype=np.int64), return_counts=True)
    atoms = np.linspace(0.0, 1.0, grid)
    likelihood = binomial_pmf(unique[:, None], n, atoms[None, :])
    share = multiplicity / multiplicity.sum()
    weights = np.full(grid, 1.0 / grid)
    previous = -np.inf
    for _ in range(max_iter):
        mixture = likelihood @ weights
        loglik = float(share @ np.log(mixture))
        weights = weights * ((share / mixture) @ likelihood)
        weights /= weights.sum()
        if loglik - previous < tolerance:
            break
        previous = loglik
    return MixingDistribution(atoms=tuple(atoms.tolist()), weights=tuple(weights.tolist()))


def overlap_moments(
    kernel: FloatArray, n: int, counts: npt.ArrayLike, prior: MixingDistribution | None = None
) -> FloatArray:
    """(problems, k + 1) estimates of gamma_j = E[g(A) g(B) | A, B share j draws], j = 0..k.

    Unbiased (pair moments over the n draws) when 2k - j <= n. Otherwise the 2k - j - n
    missing draws come from the posterior predictive of ``prior`` (fitted when None), and
    the pair moments are averaged over them.
    """
    k = kernel.size - 1
    c = np.asarray(counts, dtype=np.int64)
    unique, inverse = np.unique(c, return_inverse=True)
    table = np.zeros((unique.size, k + 1))
    for j in range(k + 1):
        needed = 2 * k - j
        if needed <= n:
            table[:, j] = pair_moments(kernel, n, unique, j)
            continue
        if prior is None:
            prior = fit_mixing_distribution(n, c)
        extra = needed - n
        f = np.arange(extra + 1)[None, :]
        future = binomial_pmf(f, extra, np.asarray(prior.atoms)[:, None])  # (atoms, extra + 1)
        weights = prior.posterior(n, unique) @ future
        moments = pair_moments(kernel, needed, (unique[:, None] + f).ravel(), j).reshape(weights.shape)
        table[:, j] = (weights * moments).sum(axis=1)
    return table[np.ravel(inverse)]


# --- the split -------------------------------------------------------------------------------


def z_value(confidence: float) -> float:
    """Two-sided normal quantile: 1.96 for 0.95."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    return NormalDist().inv_cdf((1.0 + confidence) / 2.0)


@dataclass(frozen=True)
class VarianceSplit:
    """Across-problem variance of one per-problem estimator, split into between and within parts.

    ``total`` is the sample variance (ddof 1) of the per-problem values of the pilot (P
    problems, n draws); ``within`` the mean within-problem sampling variance at n;
    ``between`` = total - within, clipped at 0. ``zeta`` holds the pooled
    gamma_j - gamma_0 (j = 0..degree) from which the within part at any n' >= degree follows.
    """

    n: int
    num_problems: int
    mean: float
    total: float
    within: float
    between: float
    degree: int
    method: str
    zeta: tuple[float, ...] | None = None

    @property
    def within_share(self) -> float:
        """Fraction of the pilot's variance that is draw sampling (NaN when unknown or zero)."""
        if not math.isfinite(self.within) or self.total <= 0:
            return math.nan
        return min(1.0, max(0.0, self.within / self.total))

    def applies(self, draws: int) -> bool:
        """Whether the figure exists and is predicted at n' = draws."""
        if self.method == FIXED:
            return True
        if self.method == UNKNOWN:
            return draws == self.n
        return draws >= self.degree

    def within_at(self, draws: int) -> float:
        """Mean within-problem variance at n' draws (NaN where the figure is not predicted)."""
        if not self.applies(draws):
            return math.nan
        if self.method == FIXED:
            return 0.0
        if self.method == UNKNOWN:
            return self.within
        if self.method == JACKKNIFE:
            return self.within * self.n / draws
        assert self.zeta is not None
        value = float(overlap_weights(draws, self.degree) @ np.asarray(self.zeta))
        return max(0.0, value)

    def variance_at(self, draws: int) -> float:
        """Per-problem variance at n' draws: between + within(n'); the pilot's own at n' = n."""
        if self.method == UNKNOWN:
            return self.total if draws == self.n else math.nan
        return self.between + self.within_at(draws)

    def halfwidth(self, problems: int, draws: int, confidence: float = 0.95) -> float:
        """Predicted half-width of the normal interval of the mean over P problems at n' draws."""
        if problems < 1:
            raise ValueError(f"problems must be >= 1, got {problems}")
        return z_value(confidence) * math.sqrt(self.variance_at(draws) / problems)


def _check_pilot(values: FloatArray) -> None:
    if values.size < 2:
        raise ValueError(f"a variance split needs at least 2 problems, got {values.size}")


def _split(
    values: FloatArray,
    *,
    n: int,
    within: float,
    degree: int,
    method: str,
    zeta: tuple[float, ...] | None = None,
) -> VarianceSplit:
    _check_pilot(values)
    total = float(values.var(ddof=1))
    between = max(0.0, total - within) if math.isfinite(within) else math.nan
    return VarianceSplit(
        n=n,
        num_problems=int(values.size),
        mean=float(values.mean()),
        total=total,
        within=within,
        between=between,
        degree=degree,
        method=method,
        zeta=zeta,
    )


def split_counts(
    kernel: FloatArray, n: int, counts: npt.ArrayLike, prior: MixingDistribution | None = None
) -> VarianceSplit:
    """Split for a count-kernel U-statistic (Pass@k, G-Pass@k_tau, mG-Pass@k, avg@n) from c out of n."""
    k = kernel.size - 1
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and n={n}")
    c = np.asarray(counts, dtype=np.int64)
    values = kernel_estimate(kernel, n, c)
    moments = overlap_moments(kernel, n, c, prior)
    zeta = (moments - moments[:, :1]).mean(axis=0)
    within = max(0.0, float(overlap_weights(n, k) @ zeta))
    method = OVERLAP if 2 * k <= n else OVERLAP_COMPLETED
    return _split(values, n=n, within=within, degree=k, method=method, zeta=tuple(float(z) for z in zeta))


def split_fixed(values: npt.ArrayLike, n: int) -> VarianceSplit:
    """Split for a figure of one draw per problem (greedy): within is 0 whatever n."""
    array = np.asarray(values, dtype=np.float64)
    return _split(array, n=n, within=0.0, degree=0, method=FIXED)


def _dense_labels(classes: IntArray) -> IntArray:
    """Renumber each row's classes 0, 1, ... (in increasing order of the old labels); -1 stays."""
    order = np.argsort(classes, axis=1, kind="stable")
    ranked = np.take_along_axis(classes, order, axis=1)
    new = np.ones_like(ranked, dtype=bool)
    new[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    dense = np.cumsum(new & (ranked >= 0), axis=1) - 1
    dense = np.where(ranked >= 0, dense, -1)
    out = np.empty_like(classes)
    np.put_along_axis(out, order, dense, axis=1)
    return out


def jackknife_majority(classes: npt.ArrayLike, correct: npt.ArrayLike, k: int) -> FloatArray:
    """Per-problem delete-one jackknife estimate of Var(maj@k from n draws | problem).

    (n - 1) / n * sum_d (U_(-d) - mean)^2, where U_(-d) is maj@k without draw d. Needs k < n.
    """
    class_arr = np.asarray(classes, dtype=np.int64)
    correct_arr = np.asarray(correct, dtype=bool)
    problems, n = class_arr.shape
    if not 1 <= k < n:
        raise ValueError(f"the jackknife needs 1 <= k < n, got k={k}, n={n}")
    keep = np.array([[col for col in range(n) if col != d] for d in range(n)])  # (n, n - 1)
    out = np.empty(problems)
    step = max(1, _JACKKNIFE_ROWS // n)
    for start in range(0, problems, step):
        part = slice(start, min(problems, start + step))
        loo_classes = class_arr[part][:, keep].reshape(-1, n - 1)
        loo_correct = correct_arr[part][:, keep].reshape(-1, n - 1)
        loo = maj_at_k(_dense_labels(loo_classes), loo_correct, k).reshape(-1, n)
        out[part] = (n - 1) / n * ((loo - loo.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    return out


def split_majority(classes: npt.ArrayLike, correct: npt.ArrayLike, k: int) -> VarianceSplit:
    """Split for maj@k: within from the jackknife over draws (scaled as 1/n), or unknown at k = n."""
    class_arr = np.asarray(classes, dtype=np.int64)
    n = class_arr.shape[1]
    values = maj_at_k(class_arr, correct, k)
    if k == n:
        return _split(values, n=n, within=math.nan, degree=k, method=UNKNOWN)
    within = float(jackknife_majority(class_arr, correct, k).mean())
    return _split(values, n=n, within=within, degree=k, method=JACKKNIFE)


# --- targets and power -----------------------------------------------------------------------


def problems_for_halfwidth(variance: float, target: float, confidence: float = 0.95) -> int | None:
    """Smallest P whose predicted half-width z sqrt(variance / P) is at most ``target``."""
    if target <= 0:
        raise ValueError(f"target half-width must be > 0, got {target}")
    if not math.isfinite(variance):
        return None
    return max(1, math.ceil(z_value(confidence) ** 2 * variance / target**2 - 1e-9))


def problems_to_detect(variance: float, delta: float, power: float, confidence: float = 0.95) -> int | None:
    """Problems for a two-sided paired test at level 1 - confidence to detect a mean difference delta.

    P = ((z_(1 - alpha/2) + z_power) sd / delta)^2, sd^2 the per-problem variance of B - A.
    """
    if delta <= 0:
        raise ValueError(f"the difference to detect must be > 0, got {delta}")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must lie in (0, 1), got {power}")
    if not math.isfinite(variance):
        return None
    z_sum = z_value(confidence) + NormalDist().inv_cdf(power)
    return max(2, math.ceil(z_sum**2 * max(variance, 0.0) / delta**2 - 1e-9))


def _first_true(predicate: Callable[[int], bool], low: int, limit: int) -> int | None:
    """Smallest x in [low, limit] with predicate(x), assuming it stays true once true."""
    if predicate(low):
        return low
    high = low
    while not predicate(high):
        if high >= limit:
            return None
        low, high = high, min(limit, high * 2)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if predicate(middle) else (middle, high)
    return high


def draws_for_halfwidth(
    split: VarianceSplit,
    problems: int,
    target: float,
    confidence: float = 0.95,
    limit: int = DRAW_SEARCH_LIMIT,
) -> int | None:
    """Smallest n' with predicted half-width at P problems <= ``target``; None when n does not
    apply (greedy), is unknown, or no n' reaches it (the between part alone is too wide)."""
    if target <= 0:
        raise ValueError(f"target half-width must be > 0, got {target}")
    if split.method in (FIXED, UNKNOWN):
        return None
    return _first_true(
        lambda draws: split.halfwidth(problems, draws, confidence) <= target, max(1, split.degree), limit
    )


def floor_halfwidth(split: VarianceSplit, problems: int, confidence: float = 0.95) -> float:
    """Half-width as n' grows without bound: only the between part is left."""
    if split.method == UNKNOWN:
        return math.nan
    return z_value(confidence) * math.sqrt(split.between / problems)


@dataclass(frozen=True)
class PairedSplit:
    """Two runs' splits on the same problems and the covariance of their true values.

    The within parts are independent (separate draws), so the per-problem variance of the
    difference B - A at n' draws is var_A(n') + var_B(n') - 2 cov.
    """

    a: VarianceSplit
    b: VarianceSplit
    covariance: float

    @property
    def correlation(self) -> float:
        """Correlation of the problems' true values in the two runs (NaN if a part is 0 or unknown)."""
        scale = math.sqrt(self.a.between * self.b.between)
        return self.covariance / scale if scale > 0 else math.nan

    def variance_at(self, draws: int) -> float:
        """Per-problem variance of B - A at n' draws in both runs, never below 0."""
        return max(0.0, self.a.variance_at(draws) + self.b.variance_at(draws) - 2 * self.covariance)


def paired_split(
    a: VarianceSplit, b: VarianceSplit, values_a: npt.ArrayLike, values_b: npt.ArrayLike
) -> PairedSplit:
    """Pair two splits over the same problems (row i the same problem in both).

    The within parts are independent, so the sample covariance of the per-problem values
    estimates the covariance of the true values without bias; it is kept within the
    Cauchy-Schwarz bound sqrt(between_A between_B), so the correlation lies in [-1, 1].
    """
    xa, xb = np.asarray(values_a, dtype=np.float64), np.asarray(values_b, dtype=np.float64)
    if xa.shape != xb.shape or xa.size < 2:
        raise ValueError("paired values need the same problems, at least 2, in the same order")
    covariance = float(np.cov(xa, xb, ddof=1)[0, 1])
    parts = [s.between if math.isfinite(s.between) else s.total for s in (a, b)]
    bound = math.sqrt(parts[0] * parts[1])
    return PairedSplit(a=a, b=b, covariance=min(bound, max(-bound, covariance)))


def assumed_pair(split: VarianceSplit, correlation: float) -> PairedSplit:
    """A second model like the first (same split) whose true values correlate ``correlation``."""
    if not -1.0 <= correlation <= 1.0:
        raise ValueError(f"correlation must lie in [-1, 1], got {correlation}")
    between = split.between if math.isfinite(split.between) else split.total
    return PairedSplit(a=split, b=split, covariance=correlation * between)
