"""Counting outcomes, and the paired comparison of two models on the same held-out tasks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from scipy.stats import binomtest


def tally(outcomes: Iterable[tuple[Any, bool]]) -> dict[str, list[int]]:
    """[passed, total] per key (keys as strings, in the order first seen), from (key, passed) pairs."""
    counts: dict[str, list[int]] = {}
    for key, passed in outcomes:
        count = counts.setdefault(str(key), [0, 0])
        count[0] += bool(passed)
        count[1] += 1
    return counts


def mcnemar_greater(before: Sequence[bool], after: Sequence[bool]) -> dict[str, Any]:
    """One-sided exact McNemar test that `after` solves more of the same tasks than `before`.

    Only the discordant tasks count: `gained` (after right, before wrong) and `lost` (the reverse). Under
    the null hypothesis each discordant task is a fair coin, so p = P(Binomial(gained + lost, 1/2) >= gained).
    """
    if len(before) != len(after):
        raise ValueError("paired results must cover the same tasks")
    gained = sum(1 for b, a in zip(before, after, strict=True) if a and not b)
    lost = sum(1 for b, a in zip(before, after, strict=True) if b and not a)
    n = gained + lost
    p = binomtest(gained, n, 0.5, alternative="greater").pvalue if n else 1.0
    return {
        "n": len(before),
        "before_pass": sum(map(bool, before)),
        "after_pass": sum(map(bool, after)),
        "gained": gained,
        "lost": lost,
        "p_value": float(p),
    }


def paired_bootstrap_ci(
    before: Sequence[bool], after: Sequence[bool], *, level: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """A percentile bootstrap confidence interval for the difference in pass rate (after - before), resampling
    whole tasks so each keeps its pair of results. Deterministic for a given seed."""
    import numpy as np

    if len(before) != len(after):
        raise ValueError("paired results must cover the same tasks")
    if not before:
        return 0.0, 0.0
    diff = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(resamples, len(diff)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def compare(before: Sequence[bool], after: Sequence[bool], *, level: float = 0.95) -> dict[str, Any]:
    """The McNemar test plus the observed difference in pass rate and its paired-bootstrap confidence interval."""
    test = mcnemar_greater(before, after)
    low, high = paired_bootstrap_ci(before, after, level=level)
    n = max(1, test["n"])
    return {**test, "diff": (test["after_pass"] - test["before_pass"]) / n, "ci": [round(low, 4), round(high, 4)]}


def wilson_interval(passed: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a pass rate (sound at 0 and at n, unlike the normal approximation)."""
    if n == 0:
        return 0.0, 1.0
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2))
    rate = passed / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((rate * (1 - rate) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


def smallest_detectable(n: int, lost: int, alpha: float) -> float | None:
    """The smallest net gain (as a share of `n` tasks) the one-sided exact McNemar test can call significant at
    `alpha` when the candidate loses `lost` tasks: the least `gained` with P(Binomial(gained + lost, 1/2) >= gained)
    < alpha, minus `lost`. None when no gain within n tasks would be."""
    for gained in range(1, n - lost + 1):
        if binomtest(gained, gained + lost, 0.5, alternative="greater").pvalue < alpha:
            return round((gained - lost) / n, 4)
    return None
