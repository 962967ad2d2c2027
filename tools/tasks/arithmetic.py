"""Task family `arithmetic`: multi-step integer arithmetic, answered directly or with a program the sandbox runs.

A question is an expression of whole numbers with +, -, * and integer division; the difficulty sets how many
operations and how large the numbers are. The model may answer in words ("Answer: 1234") or write a Python
program that prints the answer; the verifier compares a direct answer with the expected value and runs a
program in the sandbox, then compares the last number it printed. Which form each answer took is recorded
(`answer_form`), so a run can show whether the model learned to use code where it helps.

The expected value is computed by the harness from the expression; it never enters the sandbox. Held-out and
practice questions never coincide: a question is held out when a stable hash of it falls in one bucket of seven.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

from ...prompts import render
from ...sandbox import Limits, Sandbox
from ..codeblock import extract_code
from .base import Split, Task, TaskFamily, Verdict, draw_distinct

HELDOUT_BUCKETS = 7
DIRECT = "answer: "
# (operations, largest operand) per level
SHAPES = {1: (1, 99), 2: (2, 99), 3: (3, 999), 4: (4, 999), 5: (5, 9999)}
_NUMBER = re.compile(r"-?\d[\d,]*")


def question(rng: random.Random, level: int) -> tuple[str, int]:
    """An expression with `level`'s number of operations (+, -, *; evaluated as Python reads it), and its value."""
    ops, largest = SHAPES[level]
    value = rng.randint(2, largest)
    text = str(value)
    for _ in range(ops):
        op = rng.choice("+-*")
        if op == "*":
            operand = rng.randint(2, min(largest, 99))
            text = f"({text}) * {operand}" if ("+" in text or "-" in text) else f"{text} * {operand}"
            value *= operand
        else:
            operand = rng.randint(2, largest)
            text = f"{text} {op} {operand}"
            value = value + operand if op == "+" else value - operand
    return text, value


def split_of(text: str) -> Split:
    return "heldout" if int(hashlib.sha256(text.encode()).hexdigest(), 16) % HELDOUT_BUCKETS == 0 else "train"


def make_task(text: str, value: int, level: int) -> Task:
    return Task(
        id="arith-" + hashlib.sha256(text.encode()).hexdigest()[:12],
        family="arithmetic",
        template=f"arithmetic-{level}",
        difficulty=level,
        split=split_of(text),
        prompt=render("arithmetic", question=text),
        entry_point="",
        reference=f"print({text})",
        hidden={"expression": text, "answer": value},
    )


def last_number(text: str) -> int | None:
    found = _NUMBER.findall(text)
    return int(found[-1].replace(",", "")) if found else None


class Arithmetic(TaskFamily):
    name = "arithmetic"
    keywords = ("math", "maths", "calculate", "calculation", "compute", "multiply", "subtract", "numbers")
    description = (
        "mental arithmetic: multi-step whole-number calculations, answered directly or with a Python program the "
        "sandbox runs (the trace shows how often code was used)"
    )
    max_new_tokens = 160
    # No repair round: the feedback on a wrong number says only that it is wrong, which leaves a repair
    # nothing to go on but a guess; a program that failed gets its traceback, but is rare.
    run_defaults: dict[str, Any] = {
        "max_repairs": 0,
        "transfer": "none",  # no benchmark of code-writing to transfer to
        # One answer format and no unseen templates to forget: retraining round 1 of the default run (seed 0) on
        # its 79 rows with LoRA took held-out 30 -> 55 at 2e-4, 74 at 1e-3 (guard 54/54; whole at 5e-5: 76).
        "train_params": {"sft": {"lora_learning_rate": 1e-3}},
    }

    def generate(
        self, *, split: Split, difficulty: int, n: int, seed: int, exclude_prompts: frozenset[str] = frozenset()
    ) -> list[Task]:
        rng = random.Random(f"arithmetic:{split}:{difficulty}:{seed}")
        return draw_distinct(
            lambda: make_task(*question(rng, difficulty), difficulty), split, n, exclude_prompts, 50 * n + 100
        )

    def extract(self, reply: str, task: Task) -> str:
        """The program of the reply's code block; else its direct answer as `answer: N`; else ""."""
        code = extract_code(reply)
        if code:
            return code
        stated = re.search(r"answer\s*(?:is|:|=)\s*\**\s*(-?\d[\d,]*)", reply, re.IGNORECASE)
        number = int(stated.group(1).replace(",", "")) if stated else last_number(reply)
        return f"{DIRECT}{number}" if number is not None else ""

    def answer_form(self, extracted: str) -> str:
        if not extracted:
            return "none"
        return "direct" if extracted.startswith(DIRECT) else "code"

    def verify(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        want = int(task.hidden["answer"])
        if not code:
            return Verdict(passed=False, feedback="The reply has neither an 'Answer: <number>' line nor a program.")
        if code.startswith(DIRECT):
            got = int(code.removeprefix(DIRECT))
            ok = got == want
            return Verdict(passed=ok, feedback="Correct." if ok else f"Wrong: the answer is not {got}.")
        result = sandbox.run(code, limits=Limits(wall_s=10, cpu_s=5))
        if result.stopped:
            return Verdict(
                passed=False,
                feedback=f"The program was stopped: {result.stopped}.",
                stopped=result.stopped,
                duration_s=result.duration_s,
            )
        got_printed = last_number(result.stdout)
        ok = result.exit_code == 0 and got_printed == want
        if ok:
            feedback = "Correct."
        elif result.exit_code != 0:
            feedback = f"The program failed:\n{result.stderr.strip()[-600:]}"
        else:
            feedback = f"The program printed {result.stdout.strip()[-200:]!r}, which is not the answer."
        return Verdict(passed=ok, feedback=feedback, duration_s=result.duration_s)
