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


def clustered_greater(before: Sequence[bool], after: Sequence[bool], clusters: Sequence[str]) -> dict[str, Any]:
    """One-sided test that `after` solves more of the same tasks than `before` when tasks come in clusters whose
    outcomes move together (the held-out tasks of one template: on the default goal a template's 5-6 tasks often
    flip as one, so McNemar, which counts each task as an independent coin, overstates how sure a gain is).

    The unit is a cluster: its net change (tasks gained less tasks lost). Under the null hypothesis the two models
    are exchangeable, so each cluster's net change is as likely negative as positive; p is the share of the 2^m
    sign flips of the m clusters that moved whose sum is at least the observed one, counted exactly (the sum's
    distribution, built one cluster at a time). With every task its own cluster this is McNemar's exact test. Its
    power is in the number of clusters that moved: with 5, the smallest p is 1/32."""
    import numpy as np

    if not len(before) == len(after) == len(clusters):
        raise ValueError("paired results must cover the same tasks, each with its cluster")
    net: dict[str, int] = {}
    for b, a, c in zip(before, after, clusters, strict=True):
        net[c] = net.get(c, 0) + int(bool(a)) - int(bool(b))
    moved = [v for v in net.values() if v]
    span = sum(abs(v) for v in moved)
    chance = np.zeros(2 * span + 1)  # chance[span + s]: probability that the flipped sum is s
    chance[span] = 1.0
    for v in moved:
        chance = (np.roll(chance, v) + np.roll(chance, -v)) / 2  # the support never reaches the ends, so no wrap
    p = float(chance[span + sum(moved) :].sum())
    return {"clusters": len(net), "moved": len(moved), "up": sum(1 for v in moved if v > 0), "p_value": min(1.0, p)}


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


def compare(
    before: Sequence[bool], after: Sequence[bool], *, level: float = 0.95, clusters: Sequence[str] | None = None
) -> dict[str, Any]:
    """The McNemar test plus the observed difference in pass rate and its paired-bootstrap confidence interval;
    given each task's cluster (its template), also the test that counts clusters (`clustered_greater`), under
    `by_cluster`, when some cluster holds more than one task."""
    test = mcnemar_greater(before, after)
    low, high = paired_bootstrap_ci(before, after, level=level)
    n = max(1, test["n"])
    out = {**test, "diff": (test["after_pass"] - test["before_pass"]) / n, "ci": [round(low, 4), round(high, 4)]}
    if clusters is not None and len(set(clusters)) < len(clusters):
        out["by_cluster"] = clustered_greater(before, after, clusters)
    return out


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
