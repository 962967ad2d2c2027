"""What a task family is: a generator of tasks with a difficulty knob, and a verifier that runs in the sandbox."""

from __future__ import annotations

import abc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ...sandbox import Sandbox
from ..codeblock import extract_code
from ..verify import Verdict, verify_function

Split = Literal["train", "heldout"]


@dataclass(frozen=True, kw_only=True)
class Task:
    """One practice or evaluation task.

    The prompt is what the model sees. `hidden` is what only the harness sees (test inputs and the outputs the
    reference solution produced); it never enters a prompt and never reaches the sandbox as expected values.
    """

    id: str
    family: str
    template: str
    difficulty: int
    split: Split
    prompt: str
    entry_point: str
    reference: str
    hidden: dict[str, Any] = field(default_factory=dict)

    @property
    def plain_prompt(self) -> str:
        """The prompt in its family's plain wording: what identifies the task when comparing it with others. A
        practice task asked in another style (a function stub to complete) keeps its plain wording in `hidden`."""
        return str(self.hidden.get("plain_prompt", self.prompt))

    @property
    def wordings(self) -> tuple[str, ...]:
        """Every wording the task has: the plain one, then the one it is asked in where that differs."""
        return tuple(dict.fromkeys((self.plain_prompt, self.prompt)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Task:
        return cls(**row)


class TaskFamily(abc.ABC):
    """A practice domain: makes tasks at a difficulty, and verifies an attempt's code against one."""

    name: str
    description: str
    levels: tuple[int, ...] = (1, 2, 3, 4, 5)
    keywords: tuple[str, ...] = ()
    """Words a goal for this family might use (besides its description), for matching goals to families."""
    repairable: bool = True
    """Whether refine may show the model a failed attempt with the sandbox's feedback and ask for a repair."""
    trainers: tuple[str, ...] = ("sft", "dpo", "grpo")
    """The training methods that suit the family (`--trainer auto` chooses among them)."""
    max_new_tokens: int | None = None
    """The longest answer worth generating (None: the run's `sampling.max_new_tokens`, --max-new-tokens)."""
    curriculum: Literal["band", "frontier"] = "band"
    """How the curriculum planner picks levels: keep practice where the champion succeeds 20-80% of the time
    ("band"), or practise just past the longest level the champion is reliable at ("frontier")."""
    run_defaults: dict[str, Any] = {}
    """RunConfig values that suit this family better than the general defaults, by field name or SECTION.FIELD
    (the user's flags still win)."""
    run_only: bool = False
    """A family a run fills as it goes (the planner's written tasks): never chosen by a goal or by --tasks."""

    @classmethod
    def configured(cls, task_file: str | None = None) -> TaskFamily:
        """The family for a run with these settings (a family that reads the user's tasks takes the file)."""
        return cls()

    def answer_length(self, default: int) -> int:
        """The most tokens to generate for one answer: the family's own `max_new_tokens`, else `default` (the
        run's `sampling.max_new_tokens`)."""
        return self.max_new_tokens or default

    def answer_form(self, extracted: str) -> str | None:
        """The form an answer took (e.g. "code" or "direct"), for families where the model may choose; None
        where there is one form."""
        return None

    def extract(self, reply: str, task: Task) -> str:
        """What of the model's reply is verified: by default the code of its first fitting code block."""
        return extract_code(reply, task.entry_point)

    @abc.abstractmethod
    def generate(
        self,
        *,
        split: Split,
        difficulty: int,
        n: int,
        seed: int,
        exclude_prompts: frozenset[str] = frozenset(),
    ) -> list[Task]:
        """`n` tasks at `difficulty`, deterministic for (split, difficulty, n, seed), none with a prompt in
        `exclude_prompts` (the held-out prompts)."""

    def heldout(self, *, n: int, seed: int, levels: tuple[int, ...] | None = None) -> list[Task]:
        """The fixed evaluation set of a run (at `levels`, default all). By default `n` shared evenly over the
        levels, from `generate(split="heldout")`. The run passes the held-out prompts to every practice
        `generate` as `exclude_prompts`, which must keep them out (two draws of a small task may write the same
        prompt); tests/conformance/test_families.py checks it for every registered family."""
        chosen = levels or self.levels
        base, extra = divmod(n, len(chosen))
        return [
            task
            for i, level in enumerate(chosen)
            for task in self.generate(split="heldout", difficulty=level, n=base + (i < extra), seed=seed)
        ]

    @abc.abstractmethod
    def verify(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        """Run `code` against the task's hidden tests in `sandbox`."""

    def verify_many(
        self, pairs: list[tuple[Task, str]], sandbox: Sandbox, progress: Callable[[int], None] | None = None
    ) -> list[Verdict]:
        """Verify each (task, code), as many at once as the sandbox serves; the verdicts in order. A family whose
        checks can share a sandbox run overrides this. `progress(1)` is called as each is done."""

        def one(pair: tuple[Task, str]) -> Verdict:
            verdict = self.verify(pair[0], pair[1], sandbox)
            if progress is not None:
                progress(1)
            return verdict

        with ThreadPoolExecutor(max(1, sandbox.concurrency)) as pool:
            return list(pool.map(one, pairs))


def draw_distinct(
    make: Callable[[], Task | None], split: Split, n: int, exclude: frozenset[str], tries: int
) -> list[Task]:
    """Up to `n` tasks of `split` from `make` (which may give None, or a task of another split), each with a prompt
    not drawn before and not in `exclude` (compared in plain wording), in at most `tries` draws (fewer tasks only
    where the level has fewer)."""
    tasks: list[Task] = []
    seen = set(exclude)
    for _ in range(tries):
        if len(tasks) == n:
            break
        task = make()
        if task is not None and task.split == split and task.plain_prompt not in seen:
            seen.add(task.plain_prompt)
            tasks.append(task)
    return tasks


def verify_hidden_calls(task: Task, code: str, sandbox: Sandbox) -> Verdict:
    """Verify a "write a function" attempt on the task's hidden inputs with the function harness (the expected
    outputs, `task.hidden["expected"]`, never enter the sandbox)."""
    return verify_function(
        code=code,
        entry_point=task.entry_point,
        inputs=task.hidden["inputs"],
        expected=task.hidden["expected"],
        sandbox=sandbox,
    )
