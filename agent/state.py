"""The graph's state: small things only. Bulk data and models live in the run directory."""

from __future__ import annotations

import operator
from typing import Annotated, Any, NotRequired, TypedDict


class Decision(TypedDict, total=False):
    """One verdict of the gate: which stage, where it routed, why, and the numbers it used."""

    round: int
    stage: str
    verdict: str
    """forward | retry | replan | rollback | promote | stop"""
    route: str
    reason: str
    numbers: dict[str, Any]


def add_usage(old: dict[str, float] | None, new: dict[str, float] | None) -> dict[str, float]:
    """The usage reducer: each node's share is added to the run's total."""
    total = dict(old or {})
    for key, value in (new or {}).items():
        total[key] = total.get(key, 0) + value
    return total


class PlanRecord(TypedDict):
    """What the plan node decided (`Plan.to_dict`)."""

    round: int
    family: str
    levels: list[int]
    tasks_per_level: dict[str, int]
    n_tasks: int
    samples_per_task: int
    trainer: str
    stop: bool
    reason: str
    breadth: NotRequired[dict[str, dict[str, int]]]
    """Tasks per breadth family and level (`planning/breadth.py`), where the run names breadth families."""


class Counts(TypedDict, total=False):
    """The round's data, counted by the node that made it (acquire, the label filter, refine, select)."""

    tasks: int
    attempts: int
    verified: int
    tasks_solved: int
    sandbox_errors: int
    stopped_by_limits: int
    planned_attempts: int
    waves: int
    useful_attempts: int
    verified_per_min: float
    cluster_retries: int
    """Calls sent again after a Ray actor died mid-call (`--cluster ray` only)."""
    acquire_s: float
    acquire_limit_s: float
    """In a round sized as the last: the seconds acquire was given (`planning/budget.acquire_seconds`)."""
    attempts_cut: int
    """The planned attempts not sampled because that time ran out."""
    tasks_added: int
    """Tasks added because acquire ended early: the time saved, shared between sampling them and training."""
    breadth_tasks: int
    breadth_verified: int
    labelled: int
    tasks_labelled: int
    label_precision: float | None
    label_precision_by_level: dict[str, float]
    repairs_tried: int
    repaired: int
    repair_copies: int
    repairs_skipped: str
    """Why the round tried no repairs (`planning/budget.unpaid_repairs`)."""
    refine_s: float
    """Seconds the refine node took (the sizing leaves them out once repairs are skipped)."""
    selected: int
    pairs: int
    grpo_prompts: int
    duplicates_dropped: int
    near_duplicates_dropped: int
    verified_before_dedup: int
    decontaminated: dict[str, int]
    heldout_overlap_dropped: int
    protected_overlap_after: int
    selected_from_earlier_rounds: int
    frontier_rows: int
    frontier_copies: int
    frontier_templates: list[str]
    solved_rows_dropped: int
    selected_label_precision: float


class RoundFiles(TypedDict, total=False):
    """The round's data files, relative to the run directory."""

    tasks: str
    attempts: str
    repairs: str
    selected: str
    pairs: str
    prompts: str


class PlannerRecord(TypedDict, total=False):
    """Who planned the round, each tool call with the gate's verdict, and a fallback to the curriculum."""

    kind: str
    model: str | None
    turns: int
    fallback: dict[str, str] | None
    transcript: str
    calls: list[dict[str, Any]]


class CriticRecord(TypedDict):
    kind: str
    critiques: int
    repaired_with_critique: int
    error: str | None


class TrainerChoice(TypedDict):
    """The trainer select chose, why, and what the data offered each trainer."""

    method: str
    reason: str
    diagnostics: dict[str, Any]


class TrainRecord(TypedDict, total=False):
    """What training made: the candidate, its steps and losses, its parameters, the collapse probe (or the error)."""

    method: str
    adapter: str
    rows: int
    steps: int
    losses: list[float]
    metrics: dict[str, Any]
    duration_s: float
    began_s: float
    """The round's seconds (from its plan) when training began."""
    train_tokens: int
    threads: dict[str, Any]
    """The CPU threads training used, and for a small model the step seconds it timed at each count."""
    params: dict[str, Any]
    step_budget: dict[str, Any]
    """The most steps the round could take and why (more in a last round than `training.max_steps_per_round`), and
    the seconds the wall budget left training (`seconds`; 0 without a wall budget)."""
    logs: str
    checkpoint: str
    probe: dict[str, Any]
    error: str


class EvalRecord(TypedDict, total=False):
    """Champion and candidate on the held-out set (a paired test) and on the guard set."""

    n: int
    champion_pass1: int
    candidate_pass1: int
    p_value: float
    diff: float | None
    ci: list[float] | None
    gained: int
    lost: int
    min_detectable: float | None
    by_template: dict[str, Any]
    """The test that counts templates, not tasks (`stats.clustered_greater`): reported, not gated on."""
    champion_split: dict[str, int]
    candidate_split: dict[str, int]
    by_difficulty: dict[str, dict[str, float]]
    answer_forms: dict[str, dict[str, Any]]
    guard: dict[str, Any]
    once_s: float
    """Seconds spent on evaluation no later round repeats (the champion's, the starting model's guard)."""
    candidate_s: float
    """Seconds spent evaluating the candidate (held-out and guard)."""
    heldout_s: float
    """Only when the candidate forgot and its held-out evaluation was left to the blend (no `candidate_pass1`):
    the seconds that evaluation is expected to take."""
    left_s: float | None
    """Seconds the wall budget had left after this evaluation (None: no wall budget)."""


class BlendRecord(TypedDict, total=False):
    """A candidate that forgot, blended with the champion (`nodes/blend.py`): the candidate and its evaluation."""

    alpha: float
    of: str
    candidate_pass1: int | None
    p_value: float | None
    guard: dict[str, Any]
    once_s: float
    """Seconds of the first evaluation and the blend (the budget counts them once, not as a cost of every round)."""
    blend_s: float | None
    """Seconds writing the blend took (None: a resumed node found it written)."""


class RoundRecord(TypedDict, total=False):
    """The round in progress: what each node added, and what the gate reads. Checkpointed as a plain dict."""

    round: int
    plan: PlanRecord
    planner: PlannerRecord
    level_probe: dict[str, list[int]]
    counts: Counts
    files: RoundFiles
    level_stats: dict[str, list[int]]
    critic: CriticRecord
    trainer: TrainerChoice
    train: TrainRecord
    eval: EvalRecord
    blend: BlendRecord
    retries: dict[str, int]
    retry_params: dict[str, float]
    sizing: dict[str, Any]
    started_s: float


def files_of(record: RoundRecord) -> dict[str, str]:
    """The round's data files, by kind, as a plain dict (a node adds its own and stores them back)."""
    return {kind: str(path) for kind, path in record.get("files", {}).items()}


def since_promotion(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rounds closed since the last promotion (all of them rolled back): the current champion sampled them."""
    rounds: list[dict[str, Any]] = []
    for record in reversed(history):
        if record.get("promoted"):
            break
        rounds.append(record)
    return rounds[::-1]


class RunState(TypedDict, total=False):
    goal: str
    """The user's goal, as given."""
    round: int
    """The round in progress (1-based); 0 before the first plan."""
    base_model: str
    """Where the starting model was loaded from."""
    champion: str
    """The checkpoint currently believed best; changes only through a promotion."""
    candidate: str | None
    """The checkpoint trained this round, until it is promoted or rolled back."""
    current: RoundRecord
    """The record of the round in progress: plan, counts, files, train and eval numbers."""
    level_stats: dict[str, list[int]]
    """Per difficulty level, [verified, attempts] in the latest acquire (drives the band curriculum; after a
    promotion the plan measures the new champion instead, see `curriculum.promotion_probe`)."""
    route: str
    """Where the last gate sent the run (read by the routers)."""
    history: Annotated[list[dict[str, Any]], operator.add]
    """One record per finished round."""
    decisions: Annotated[list[Decision], operator.add]
    """Every gate decision, in order."""
    usage: Annotated[dict[str, float], add_usage]
    """What the run has spent: wall_s (in nodes), sandbox_s, tokens (generated), train_steps."""
    peak_rss_gb: float | None
    """The peak resident memory of the node that ran last (GB; the trace keeps each node's)."""
    stop_reason: str | None
    """Set by a gate that ends the run after closing the round (a spent budget, a failing sandbox)."""


def initial_state(goal: str, model: str) -> RunState:
    """The state a new run starts from: round 0, the starting model as champion, nothing decided yet."""
    return RunState(
        goal=goal,
        round=0,
        base_model=model,
        champion=model,
        candidate=None,
        current=RoundRecord(),
        level_stats={},
        history=[],
        decisions=[],
        usage={},
        stop_reason=None,
    )
