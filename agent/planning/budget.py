"""Rounds sized to the wall budget from the rates this run has measured.

A run carries a wall budget (`budget.wall_s`, 30 minutes by default): the seconds its nodes may spend. Each
round's size comes from the last rounds' own figures (`Rates`): attempts per second in acquire (sampling and
verification); training seconds per attempt (the rows an attempt yields, passed `training.epochs` times at the
last training's seconds per row, up to `training.max_steps_per_round` steps except in a last round); and the rest
of a round (plan, refine, select, the candidate's evaluation) as a fixed cost. Rounds go on while the next one
fits, with what the end of the run needs (the transfer benchmark of the final champion) held back:

- round 1 has no measurements: it takes the configured size (`sampling.tasks_per_round`);
- later rounds: as many rounds as still fit, counting each as long as a round of the configured size or the round
  before it, whichever is longer, and stretched to use all the time left (so rounds grow; with less than that
  left, one round takes it all); a round that lacks no more than `SHORTER` of that length still counts, and the
  rounds are then a little shorter than the round before; the last one takes as many tasks as it can both acquire
  and train on, in the time left less a blend's (`blend_s`: its candidate may forget, and its blend must then
  still fit);
- a round that `budget.rounds` (`--rounds`) makes the last is sized as the last, whatever more the time would fit;
- when not even a small round (a quarter of the configured tasks) fits, the run stops, and says so.

A later round starts from a better champion, so its gain is smaller and needs more training to be seen by the
gate: rounds shrink by no more than `SHORTER` allows. On the default goal's seed 1, 697 s were left after a 423 s
round 2; at that run's fast acquire rate two rounds of the configured size fitted, so it ran two rounds of 348 s:
one candidate was +4 of 200 (p = 0.19) and the next -5, both rolled back, and the run ended at 106 (the same seed:
111 and 115 with three rounds). In six other runs the rounds grew, and five of their six last rounds were
promoted.

Training was once a fixed cost too, measured on round 1's short training. On the default goal's seed 0 a last
round was then sized at 464 tasks: acquiring them left 192 s to train, 36 steps, half a pass over its 520 rows,
and its candidate (+3 of 200) was rolled back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import RunConfig

GROWTH = 4
"""A round is at most this many times the configured size (a budget measured in hours is spent in rounds)."""

SHORTER = 0.25
"""How much of a further round's shortest length the time left may lack, and still hold that round: the rounds are
then a little shorter than the round before (two rounds in 1.75 of its length take 7/8 of it each). On the
default goal's seed 1, 1003.7 s were left after a 620 s round 1, 1.91 rounds of the 526 s a round then took: one
round of 932 s (197 tasks, 78 steps) gained 25 and lost 16 of 200 (p = 0.11) and was rolled back, and the run ended
after round 1, at +14.5 points; with this rule it ran two rounds of 137 and 112 tasks, and ended at +25.5. The
seeds with 2.04-2.25 rounds left ran two more either way, and reached +27 to +37.5. Two rounds at 82% of the round
before failed on seed 1 once (below), so no more is taken from a round than this."""

HELDOUT_PER_BUDGET = 900
"""Wall seconds of budget per `evaluation.heldout_tasks` of held-out tasks (200 for the default 30 minutes).

At 100 tasks the gate could not see the gains a 30-minute run's later rounds make: on the default goal, candidates
of 49, 51 and 52 against champions of 45 and 47 had p = 0.11 or more and were rolled back. 200 tasks give twice
the discordant pairs at the same rates (7% gained and 2% lost: p = 0.015 on 200 tasks, 0.09 on 100), and 54
unseen-template tasks instead of 27. The price: a hundred more greedy answers for the start and each candidate."""


def heldout_for_budget(config: RunConfig) -> int:
    """The held-out set's size for the run's wall budget, when neither the user nor the family chose one: the
    configured size for each 15 minutes (at most 4 times it), so a longer run can see a smaller real gain. A
    round evaluates one candidate on it; at about 0.2-0.7 s per greedy answer here, 100 tasks cost 20-70 s."""
    base, wall = config.evaluation.heldout_tasks, config.budget.wall_s
    if not wall:
        return base
    return base * max(1, min(GROWTH, round(wall / HELDOUT_PER_BUDGET)))


@dataclass(frozen=True)
class Sizing:
    tasks: int
    """Practice tasks for the round."""
    stop: str | None = None
    """Why no further round fits, or None."""
    numbers: dict[str, Any] = field(default_factory=dict)
    """The rates and times the sizing used, for the plan decision."""


def _measured(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in history if (r.get("counts") or {}).get("acquire_s") and r.get("spent_s")]


@dataclass(frozen=True)
class Rates:
    """What a round costs at this run's measured rates: acquire and training grow with the round's tasks, the rest
    of a round does not."""

    attempts_per_s: float
    """Attempts sampled and verified per second in the last measured acquire."""
    fixed_s: float
    """A round's seconds outside acquire and training (plan, refine, select, the candidate's evaluation)."""
    train_s_per_attempt: float
    """Training seconds each attempt buys: the new rows an attempt yields, passed `training.epochs` times, at the
    seconds per row the last training took."""
    step_cap_s: float
    """What training takes at `training.max_steps_per_round` steps: the most a round that is not the last trains."""
    step_s: float = 0.0
    """Seconds per optimizer step of the method the round is sized for (0: no training measured)."""

    def round_s(self, attempts: int, last: bool) -> float:
        """Seconds a round of `attempts` attempts takes; a last round trains for as long as its rows need (its step
        cap is lifted: `nodes/train.py`'s step budget)."""
        train = attempts * self.train_s_per_attempt
        return self.fixed_s + attempts / self.attempts_per_s + (train if last else min(train, self.step_cap_s))


def unpaid_repairs(history: list[dict[str, Any]], max_repairs: int) -> str | None:
    """Why this round skips its repairs, or None: the run's earlier rounds tried at least a round's worth of repairs
    and not one was verified without copying the failed attempt. The model cannot yet repair from feedback, and the
    seconds (20-40 a round on 2 cores) go to the rest of the round: its sizing counts the fixed part of a round
    without the measured round's refine (`refine_s`)."""
    counts = [h.get("counts", {}) for h in history]
    tried = sum(c.get("repairs_tried", 0) for c in counts)
    useful = sum(c.get("repaired", 0) - c.get("repair_copies", 0) for c in counts)
    if max_repairs <= 0 or tried < max_repairs or useful > 0:
        return None
    return f"skipped: earlier rounds verified 0 of {tried} repairs"


def _once_s(record: dict[str, Any]) -> float:
    """The seconds of a finished round's evaluation that a run does once (round 1's start model and guard set), and
    those of a blend (`nodes/blend.py`: the forgetful candidate's evaluation and the blend's weights)."""
    return float((record.get("eval") or {}).get("once_s", 0.0)) + float((record.get("blend") or {}).get("once_s", 0.0))


def _evaluated(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The finished rounds that went as far as evaluation (one that stopped early did not train)."""
    return [r for r in history if r.get("eval") and r.get("spent_s")]


def rest_s(record: dict[str, Any]) -> float:
    """A finished round's seconds outside acquire and training (plan, refine, select, the candidate's evaluation),
    less the evaluation a run does once (`once_s`: the starting model on the held-out set and the guard candidates,
    in round 1 only; 80-90 s of the default run, which every later round would otherwise be sized by)."""
    return (
        record["spent_s"]
        - (record.get("counts") or {}).get("acquire_s", 0.0)
        - (record.get("train") or {}).get("duration_s", 0.0)
        - _once_s(record)
    )


def after_training_s(record: dict[str, Any]) -> float:
    """A finished round's seconds from the start of its training, less the training itself and the evaluation a run
    does once: loading the model, the collapse probe, the candidate's evaluation. What training must leave for the
    rest of its round; plan, refine and select (30-35 s of the default run) are spent by then. A round recorded
    without its training's start counts its whole rest (`rest_s`)."""
    train = record.get("train") or {}
    if "began_s" not in train:
        return rest_s(record)
    return record["spent_s"] - train["began_s"] - train["duration_s"] - _once_s(record)


def longest(history: list[dict[str, Any]], seconds: Callable[[dict[str, Any]], float]) -> float | None:
    """The most `seconds` gives over the finished rounds that went as far as evaluation (one that stopped early
    did not train), or None before any did."""
    whole = [seconds(r) for r in _evaluated(history)]
    return max(whole) if whole else None


def acquire_seconds(sizing: dict[str, Any], attempts: int) -> float | None:
    """How long acquire may take in a round the plan sized as the last: its attempts at the rate the sizing used.
    Training gets the time after it, so an acquire slower than predicted would take its overrun from training. On
    the default goal's seed 1 a last round practised harder levels than the round it was sized from, acquired at
    2.95 attempts/s against 3.68, and trained 18 steps in the 117 s left instead of about 33 in 208 s; its
    candidate (+1 of 200) was rolled back. None for other rounds: their training stops at the step cap, and an
    overrun only shortens the rounds after them, which are sized on what is left."""
    rate = sizing.get("attempts_per_s")
    if sizing.get("rounds_that_fit") != 1 or not rate:
        return None
    return attempts / rate


def extra_attempts(sizing: dict[str, Any], seconds_left: float, rate: float) -> int:
    """Attempts a round sized as the last can add when its acquire ended `seconds_left` before its time, at `rate`
    attempts per second (this round's): the time saved is shared between acquiring them and training on the rows
    they yield, as the sizing shares a round's time. On the default goal's seed 1 a last round practising L2-L4
    acquired at 3.78 attempts/s, sized from round 1's 2.16 (every level, L5's long answers included): it finished
    266 s early with 324 rows, and its training, two passes over them, left 100 s of the budget unused."""
    if seconds_left <= 0 or rate <= 0:
        return 0
    return int(seconds_left / (1 / rate + float(sizing.get("train_s_per_attempt", 0.0))))


def _previous_round_s(measured: list[dict[str, Any]]) -> float:
    """Seconds the last round that went as far as evaluation took, less the evaluation a run does once (0 when
    none did): the shortest the next round may be."""
    whole = _evaluated(measured)
    return whole[-1]["spent_s"] - _once_s(whole[-1]) if whole else 0.0


STEP_COST = {"sft": 1.0, "dpo": 3.0}
"""Seconds of an optimizer step of each offline method, relative to SFT's, for a run that has not yet timed the
method it is about to train with. A DPO step passes a chosen and a rejected answer through the policy and the
reference model: the default model's DPO steps took 2.8x (arithmetic, 24.7 s against 8.9 s) and about 3x its
SFT steps at the same batch."""


def trained_rounds(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The finished rounds that took at least one optimizer step."""
    return [r for r in history if (r.get("train") or {}).get("steps")]


def step_seconds(history: list[dict[str, Any]], method: str | None = None) -> float | None:
    """Seconds per optimizer step of `method` (None: the last training's method): the last training of it in
    this run, else the last training of another offline method scaled by `STEP_COST`; None before any training."""
    trained = [r["train"] for r in trained_rounds(history)]
    if not trained:
        return None
    same = [t for t in trained if method in (None, t.get("method"))]
    record = (same or trained)[-1]
    per_step = float(record["duration_s"]) / record["steps"]
    if same or method not in STEP_COST or record.get("method") not in STEP_COST:
        return per_step
    return per_step * STEP_COST[method] / STEP_COST[record["method"]]


def _rates(config: RunConfig, measured: list[dict[str, Any]], method: str | None = None) -> Rates:
    """The rates of the last measured round (the fixed part: the most any whole round took, less its refine when
    the next round skips its repairs), training at the seconds per step of `method` (None: the last training's). A
    round that did not train gives no training rate; its seconds outside acquire all count as fixed."""
    last = measured[-1]["counts"]
    skips_refine = unpaid_repairs(measured, config.sampling.max_repairs) is not None

    def rest(record: dict[str, Any]) -> float:
        return rest_s(record) - ((record.get("counts") or {}).get("refine_s", 0.0) if skips_refine else 0.0)

    fixed = longest(measured, rest)
    if fixed is None:
        fixed = max(rest(r) for r in measured)
    trained = trained_rounds(measured)
    per_attempt, step_s = 0.0, 0.0
    if trained:
        record, counts = trained[-1]["train"], trained[-1]["counts"]
        batch = (record.get("params") or {}).get("batch_size", config.training.batch_size)
        step_s = step_seconds(measured, method) or 0.0
        # The rows this round's attempts added, and the frontier's copies that were trained on besides.
        new_rows = max(0, counts.get("selected", 0) - counts.get("selected_from_earlier_rounds", 0))
        new_rows += counts.get("frontier_copies", 0)
        per_attempt = config.training.epochs * new_rows / max(1, counts["attempts"]) * step_s / batch
    cap_s = config.training.max_steps_per_round * step_s
    return Rates(last["attempts"] / last["acquire_s"], fixed, per_attempt, cap_s, step_s)


def smallest_round_s(config: RunConfig, history: list[dict[str, Any]]) -> float | None:
    """Seconds the smallest further round would take at this run's measured rates (None before any): what the
    plan requires to start another round."""
    measured = _measured(history)
    if not measured:
        return None
    return _smallest_s(config, _rates(config, measured))


def _smallest_s(config: RunConfig, rates: Rates) -> float:
    return rates.round_s(max(1, config.sampling.tasks_per_round // 4) * config.sampling.samples_per_task, last=True)


def _tasks_within(rates: Rates, seconds: float, k: int, last: bool) -> int:
    """The most tasks (k attempts each) whose round takes at most `seconds`."""
    per_task = k / rates.attempts_per_s + k * rates.train_s_per_attempt
    tasks = int((seconds - rates.fixed_s) / per_task)
    if not last and tasks * k * rates.train_s_per_attempt > rates.step_cap_s:  # the step cap leaves time to acquire
        tasks = int((seconds - rates.fixed_s - rates.step_cap_s) * rates.attempts_per_s / k)
    return tasks


def size_round(
    config: RunConfig,
    history: list[dict[str, Any]],
    spent_s: float,
    reserve_s: float = 0.0,
    method: str | None = None,
    blend_s: float = 0.0,
    rounds_left: int | None = None,
) -> Sizing:
    """The size of the next round under the wall budget, given the finished rounds, the seconds spent so far, the
    seconds to hold back for the end of the run, the method the round is expected to train with (None: the last
    training's; `trainer_choice.expected_method`), the seconds a last round keeps for a blend (`blend_s`), and the
    rounds `budget.rounds` still allows, this one included (None: no cap). A round the cap makes the last is sized
    as the last: it takes all the time left, where counting the rounds that fit the time alone would leave the
    time of the rounds the cap forbids unused."""
    default = config.sampling.tasks_per_round
    limit = config.budget.wall_s
    if not limit:
        return Sizing(default)
    remaining = limit - spent_s - reserve_s
    numbers: dict[str, Any] = {"wall_budget_s": limit, "spent_s": round(spent_s, 1), "reserved_s": round(reserve_s, 1)}
    measured = _measured(history)
    if not measured:
        return Sizing(default, numbers={**numbers, "remaining_s": round(remaining, 1), "rates": "none yet"})
    k = config.sampling.samples_per_task
    rates = _rates(config, measured, method)
    smallest = max(1, default // 4)
    numbers.update(
        remaining_s=round(remaining, 1),
        method=method or "as the last training",
        step_s=round(rates.step_s, 2) if rates.step_s else None,
        attempts_per_s=round(rates.attempts_per_s, 3),
        other_stages_s=round(rates.fixed_s, 1),
        train_s_per_attempt=round(rates.train_s_per_attempt, 3),
    )
    needed = _smallest_s(config, rates)
    if remaining < needed:
        why = (
            f"the next round does not fit the wall budget: about {needed:.0f} s needed, {max(remaining, 0):.0f} s left"
        )
        return Sizing(0, stop=why, numbers=numbers)
    shortest = max(rates.round_s(default * k, last=False), _previous_round_s(measured))
    fits_time = max(1, math.floor(remaining / shortest + SHORTER))
    fits = fits_time if rounds_left is None else max(1, min(fits_time, rounds_left))
    last = fits == 1
    room = remaining / fits - (blend_s if last else 0.0)  # a last round keeps a blend's time (`blend_reserve_s`)
    tasks = max(smallest, min(GROWTH * default, _tasks_within(rates, room, k, last)))
    numbers.update(
        rounds_that_fit=fits,
        **({"rounds_that_fit_the_time": fits_time} if fits != fits_time else {}),
        blend_reserve_s=round(blend_s, 1) if last else 0.0,
        shortest_round_s=round(shortest, 1),
        tasks=tasks,
        predicted_s=round(rates.round_s(tasks * k, last), 1),
    )
    return Sizing(tasks, numbers=numbers)
