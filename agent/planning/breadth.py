"""Breadth: practice tasks from families beside the goal's, in every round.

A goal's families are what the run is evaluated on (the held-out and guard sets) and what the curriculum plans.
`tasks.breadth` names further families practised alongside them, so the verified data is not all of one kind:
a `tasks.breadth_share` of the round's tasks, spread evenly over each breadth family's levels (sampling in
waves then stops spending on levels the champion cannot do). Their attempts are verified and selected like the
rest, but they are kept out of the curriculum's per-level figures and out of refine.
"""

from __future__ import annotations

from ..config import RunConfig
from .curriculum import share


def breadth_tasks(config: RunConfig, planned: int, levels_of: dict[str, tuple[int, ...]]) -> dict[str, dict[str, int]]:
    """Tasks per breadth family and level for a round whose plan has `planned` tasks of the goal's families;
    `levels_of` gives each breadth family's levels."""
    families = [f for f in config.tasks.breadth if f not in config.tasks.families]
    fraction = config.tasks.breadth_share
    if not families or not planned or fraction <= 0:
        return {}
    total = round(planned * fraction / (1 - fraction)) if fraction < 1 else planned
    out: dict[str, dict[str, int]] = {}
    for family, n in share(total, list(range(len(families)))).items():
        name = families[family]
        counts = share(n, list(levels_of[name]))
        out[name] = {str(level): c for level, c in counts.items() if c > 0}
    return out
