"""Task family `addition`: add two whole numbers; the difficulty is the number of digits.

The format is the one that lets a small transformer extend what it learned to longer numbers (after Lee et al.,
ICML 2025, "Self-Improving Transformers Overcome Easy-to-Hard and Length Generalization Challenges"): both
operands and the answer are zero-padded to a fixed width and written least significant digit first, e.g. 57 + 8
at width 4 is `7500+8000=` with the answer `56000`. Every answer digit then sits at the same distance from the
two digits it adds and comes after the digit whose carry it needs, so one attention pattern (RoPE positions are
relative) serves every position, including positions that held only zeros in the easier levels. A model trained
on this format from scratch (`autodidact seed`) reads the prompt as is: its tokenizer works on characters.

The ground truth is computed in the sandbox, one run for a whole batch of tasks; the harness compares each
stated answer with it. The model's answer never enters the sandbox, so nothing it writes can forge a pass.
Held-out and practice tasks never coincide: a pair of operands is held out when a stable hash of it falls in
one bucket of seven.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from typing import Any

from ...sandbox import Limits, Sandbox
from .base import Split, Task, TaskFamily, Verdict, draw_distinct

WIDTH = 12
"""Digits every operand is padded to: the longest addition the family poses."""
HELDOUT_BUCKETS = 7
SUMS_PER_RUN = 5000
ALPHABET = "0123456789+="


def prompt_of(a: int, b: int) -> str:
    return f"{str(a).zfill(WIDTH)[::-1]}+{str(b).zfill(WIDTH)[::-1]}="


def answer_of(total: int) -> str:
    return str(total).zfill(WIDTH + 1)[::-1]


def read_answer(reply: str) -> int | None:
    """The number a reply states (WIDTH + 1 digits, least significant first), or None if it is malformed."""
    text = reply.strip()
    if not re.fullmatch(rf"[0-9]{{{WIDTH + 1}}}", text):
        return None
    return int(text[::-1])


def split_of(a: int, b: int) -> Split:
    bucket = int(hashlib.sha256(f"{a}+{b}".encode()).hexdigest(), 16) % HELDOUT_BUCKETS
    return "heldout" if bucket == 0 else "train"


def make_task(a: int, b: int) -> Task:
    digits = max(len(str(a)), len(str(b)))
    return Task(
        id=f"add-{a}-{b}",
        family="addition",
        template=f"add-{digits}",
        difficulty=digits,
        split=split_of(a, b),
        prompt=prompt_of(a, b),
        entry_point="",
        reference=answer_of(a + b),
        hidden={"a": a, "b": b},
    )


def operands(rng: random.Random, digits: int) -> tuple[int, int]:
    """Two numbers of at most `digits` digits, one of them with exactly `digits`."""
    low = 10 ** (digits - 1) if digits > 1 else 0
    a, b = rng.randint(low, 10**digits - 1), rng.randint(0, 10**digits - 1)
    return (a, b) if rng.random() < 0.5 else (b, a)


def sample(split: Split, digits: int, n: int, rng: random.Random, exclude: frozenset[str] = frozenset()) -> list[Task]:
    """Up to `n` distinct tasks of `split` at `digits` (fewer only where the level has fewer pairs)."""
    return draw_distinct(lambda: make_task(*operands(rng, digits)), split, n, exclude, 50 * n + 100)


def sums_program(pairs: list[tuple[int, int]]) -> str:
    return f"import json\nprint(json.dumps([str(a + b) for a, b in {pairs!r}]))\n"


class Addition(TaskFamily):
    name = "addition"
    keywords = ("add", "addition", "sum", "long", "numbers", "digits", "carry")
    description = (
        f"add two whole numbers of up to N digits (N = difficulty, 1-{WIDTH}), padded and reversed; for models "
        "trained from scratch with `autodidact seed`"
    )
    levels = tuple(range(1, WIDTH + 1))
    repairable = False
    trainers = ("sft",)
    max_new_tokens = WIDTH + 2
    curriculum = "frontier"
    alphabet = ALPHABET
    """The characters of its prompts and answers: what a model trained from scratch on it must read and write."""
    run_defaults: dict[str, Any] = {
        "transfer": "none",  # HumanEval is beyond a model that only adds
        "rounds": 40,  # the wall budget ends the run: each round takes about 30 s
        "patience": 8,  # rounds are short: three rolled back in a row had ended a run at 115 s of its 600
        "wall_s": 600,  # a proving ground answers in 10 minutes
        # Each round trains on its own labels only: the earlier rounds' rows are mostly of mastered lengths, and
        # with them (the general default) seven rounds reached L7 34% and L8 2%; without, 70% and 32% after eight.
        "accumulate": False,  # but the rounds rolled back since the last promotion pool their rows
        "heldout_tasks": 600,
        "guard_tasks": 300,
        "tasks_per_round": 4000,
        "samples_per_task": 1,
        "temperature": 0.0,
        "batch_size": 500,
        "max_rows_per_task": 1,
        "learning_rate": 5e-4,
        "epochs": 3.0,
        "train_batch_size": 64,
        "micro_batch_size": 64,  # one pass per step: a model this small costs a pass's overhead, not activations
        "max_steps_per_round": 150,
        "bf16": False,
        "probe_prompts": 64,
        "min_verified": 32,
        "min_tasks_solved": 32,
        "min_rows": 32,
        "train_params": {"sft": {"warmup_steps": 10, "max_length": 64}},
    }

    def generate(
        self, *, split: Split, difficulty: int, n: int, seed: int, exclude_prompts: frozenset[str] = frozenset()
    ) -> list[Task]:
        return sample(split, difficulty, n, random.Random(f"addition:{split}:{difficulty}:{seed}"), exclude_prompts)

    def extract(self, reply: str, task: Task) -> str:
        return reply.strip()

    def verify(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        return self.verify_many([(task, code)], sandbox)[0]

    def verify_many(
        self, pairs: list[tuple[Task, str]], sandbox: Sandbox, progress: Callable[[int], None] | None = None
    ) -> list[Verdict]:
        """The sandbox adds up every distinct pair of operands (one run per SUMS_PER_RUN); the harness compares
        each stated answer with its sum."""
        operand_pairs = sorted({(int(t.hidden["a"]), int(t.hidden["b"])) for t, _ in pairs})
        truth: dict[tuple[int, int], int] = {}
        failed = Verdict(passed=False, feedback="The sandbox failed.", stopped="sandbox_error")
        spent = 0.0
        for start in range(0, len(operand_pairs), SUMS_PER_RUN):
            chunk = operand_pairs[start : start + SUMS_PER_RUN]
            result = sandbox.run(sums_program(chunk), limits=Limits(wall_s=30, cpu_s=30))
            spent += result.duration_s
            try:
                if result.stopped or result.exit_code != 0:
                    raise ValueError(result.stopped or f"exit code {result.exit_code}")
                sums = json.loads(result.stdout)
                truth.update(zip(chunk, (int(s) for s in sums), strict=True))
            except ValueError as exc:
                failed = Verdict(passed=False, feedback=f"The sandbox failed ({exc}).", stopped="sandbox_error")
        share = spent / max(1, len(pairs))
        verdicts = []
        for task, code in pairs:
            a, b = int(task.hidden["a"]), int(task.hidden["b"])
            verdicts.append(self._judge(a, b, truth[(a, b)], code, share) if (a, b) in truth else failed)
        if progress is not None:
            progress(len(pairs))
        return verdicts

    @staticmethod
    def _judge(a: int, b: int, total: int, code: str, duration_s: float) -> Verdict:
        stated = read_answer(code)
        if stated is None:
            feedback = f"The answer must be {WIDTH + 1} digits, least significant first."
            return Verdict(passed=False, feedback=feedback, duration_s=duration_s)
        ok = stated == total
        feedback = "Correct." if ok else f"Wrong: {a} + {b} is {total}, not {stated}."
        return Verdict(passed=ok, feedback=feedback, duration_s=duration_s)
