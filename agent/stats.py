"""Paired comparison of two models on the same held-out tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scipy.stats import binomtest


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
