"""Label filters: which sampled answers become training data. One class holds all of a filter's strategy.

- `verified` (the default): the answers the sandbox confirms.
- `majority`: no ground truth. Each task's answers are put to a vote; when one answer leads the runner-up by
  `majority_margin` votes, the attempts that gave it are the task's labels. The sandbox's verdicts are still
  recorded, so the trace can say how often the majority was right (reported, never used to choose data).

Acquire labels the attempts (`label`, `counts`), the gate counts what is usable (`usable`), select keeps the
labelled attempts (`is_label`), the frontier curriculum asks how far ahead labels can be trusted (`ahead`), and
the CLI checks and completes the run's settings (`settle`). Filters register in the `autodidact.label_filters`
entry point group; a plugin's filter subclasses `LabelFilter`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from ..plugins import Registry
from .state import Counts


class LabelFilter:
    name = "verified"
    description = "the answers the sandbox confirms (ground truth)"
    kind = "verified"
    """What a usable attempt is called in the gate's reasons."""
    ahead = 1
    """Levels past the frontier worth practising: a verified label is right at any level."""
    waves = True
    """Whether acquire may sample in waves (`waves.py`): stop a task once it has enough verified attempts."""

    def settle(self, config: Any, samples_given: int | None) -> str | None:
        """Complete the run's settings for this filter (in place); why they cannot work, or None."""
        return None

    def label(self, flat: list[tuple[Any, int, str]], family: Any, config: Any) -> dict[str, str] | None:
        """Per task, the answer its attempts are labelled with; None when the verdicts are the labels."""
        return None

    def counts(self, attempts: list[dict[str, Any]], labels: dict[str, str] | None) -> Counts:
        """What acquire adds to the round's counts."""
        return {}

    def is_label(self, row: dict[str, Any]) -> bool:
        """Whether an attempt or repair row is training data."""
        return bool(row["passed"])

    def usable(self, counts: Counts) -> tuple[int, int, dict[str, Any]]:
        """(usable attempts, tasks with one, numbers for the gate's decision)."""
        return counts["verified"], counts["tasks_solved"], {}

    def selected_counts(self, rows: list[dict[str, Any]]) -> Counts:
        """What select adds to the round's counts about the rows it kept."""
        return {}


class Verified(LabelFilter):
    pass


class Majority(LabelFilter):
    name = "majority"
    description = "the answer most of a task's samples agree on, by majority_margin votes (no ground truth)"
    kind = "majority-labelled"
    waves = False  # a vote needs every sample of a task, whatever the verdicts say
    # Majority labels past the frontier are mostly the model agreeing with its own mistakes (measured: 2-3% right
    # two levels out).
    ahead = 0

    def settle(self, config: Any, samples_given: int | None) -> str | None:
        # A vote needs several samples, and greedy samples would always agree.
        if samples_given is not None and samples_given < 3:
            return "--label-filter majority needs at least 3 samples per task to vote; give --samples 3 or more"
        if config.sampling.samples_per_task < 3:
            config.sampling.samples_per_task = 4
        if config.sampling.temperature <= 0:
            config.sampling.temperature = type(config.sampling)().temperature
        return None

    def label(self, flat: list[tuple[Any, int, str]], family: Any, config: Any) -> dict[str, str]:
        return majority_labels(flat, family, config.selection.majority_margin)

    def counts(self, attempts: list[dict[str, Any]], labels: dict[str, str] | None) -> Counts:
        labels = labels or {}
        labelled = [row for row in attempts if row.get("label")]
        right = {row["task_id"] for row in labelled if row["passed"]}
        by_level: dict[str, list[set[str]]] = {}
        for row in labelled:
            sets = by_level.setdefault(str(row["difficulty"]), [set(), set()])
            sets[0].add(row["task_id"])
            if row["passed"]:
                sets[1].add(row["task_id"])
        return {
            "labelled": len(labelled),
            "tasks_labelled": len(labels),
            # The share of majority labels the sandbox confirms: reported, never used to choose data.
            "label_precision": round(len(right) / len(labels), 4) if labels else None,
            "label_precision_by_level": {
                k: round(len(v[1]) / len(v[0]), 4) for k, v in sorted(by_level.items(), key=lambda kv: int(kv[0]))
            },
        }

    def is_label(self, row: dict[str, Any]) -> bool:
        return bool(row.get("label"))

    def usable(self, counts: Counts) -> tuple[int, int, dict[str, Any]]:
        numbers: dict[str, Any] = {"labelled": counts["labelled"], "tasks_labelled": counts["tasks_labelled"]}
        numbers["label_precision"] = counts["label_precision"]
        return counts["labelled"], counts["tasks_labelled"], numbers

    def selected_counts(self, rows: list[dict[str, Any]]) -> Counts:
        # How many of the labels trained on are right: the sandbox's verdicts, for the trace only.
        return {"selected_label_precision": round(sum(r["verified"] for r in rows) / max(1, len(rows)), 4)}


def majority_labels(flat: list[tuple[Any, int, str]], family: Any, margin: int) -> dict[str, str]:
    """Per task, the answer its samples agree on when it leads the runner-up by at least `margin` votes."""
    votes: dict[str, Counter[str]] = {}
    for task, _, reply in flat:
        answer = family.extract(reply, task)
        if answer:
            votes.setdefault(task.id, Counter())[answer] += 1
    labels = {}
    for task_id, counter in votes.items():
        (top, top_votes), *rest = counter.most_common(2)
        if top_votes - (rest[0][1] if rest else 0) >= margin:
            labels[task_id] = top
    return labels


LABEL_FILTERS: Mapping[str, type[LabelFilter]] = Registry("label_filters")
"""Every label filter, built-in or plugin, by name (entry point group `autodidact.label_filters`)."""


def label_filter(name: str) -> LabelFilter:
    return LABEL_FILTERS[name]()
