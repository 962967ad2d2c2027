"""evaluate: champion and candidate, greedy, on the same held-out tasks; a paired test of the difference."""

from __future__ import annotations

from typing import Any

from ..context import RunContext, model_key
from ..progress import bar
from ..state import RunState
from ..stats import mcnemar_greater


def split_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "seen_templates": sum(r["passed"] for r in rows if not r["unseen_template"]),
        "unseen_templates": sum(r["passed"] for r in rows if r["unseen_template"]),
        "n_seen": sum(1 for r in rows if not r["unseen_template"]),
        "n_unseen": sum(1 for r in rows if r["unseen_template"]),
    }


def evaluate(state: RunState, ctx: RunContext) -> dict[str, Any]:
    round_no = state["round"]
    current = dict(state["current"])
    n = ctx.config.heldout_tasks
    results = {}
    for role in ("champion", "candidate"):
        location = state[role]  # type: ignore[literal-required]
        assert location is not None
        with bar(n, f"round {round_no} eval {role}") as progress:
            results[role] = ctx.eval_results(location, model_key(location, state["base_model"]), progress.update)
    champion, candidate = results["champion"], results["candidate"]
    test = mcnemar_greater([r["passed"] for r in champion], [r["passed"] for r in candidate])
    current["eval"] = {
        "n": test["n"],
        "champion_pass1": test["before_pass"],
        "candidate_pass1": test["after_pass"],
        "p_value": test["p_value"],
        "gained": test["gained"],
        "lost": test["lost"],
        "champion_split": split_counts(champion),
        "candidate_split": split_counts(candidate),
    }
    ctx.log(
        f"round {round_no}: evaluate: champion {test['before_pass']}/{test['n']}, candidate "
        f"{test['after_pass']}/{test['n']} (+{test['gained']} -{test['lost']}, p={test['p_value']:.3g})"
    )
    return {"current": current}
