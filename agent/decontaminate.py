"""Decontamination: no training row may teach a task the run evaluates on (the held-out and guard sets).

A row is dropped when its task's prompt equals a protected prompt after normalisation (case, whitespace), when
the prompts are near-duplicates (Jaccard similarity of word 5-grams at or above the threshold: same-template
tasks with a different example score about 0.75-0.82 on the function family, copies with small edits above
0.9), or when its solution equals a protected task's reference solution that its own task's reference does not
explain (a solution leaked from an evaluation task).

An external benchmark's problems (HumanEval; `tools.benchmarks.protected`) are protected too, and more strictly:
a row is also dropped when its solution near-copies a benchmark's reference solution (code 5-gram Jaccard at or
above the threshold). The reasons name the benchmark: `benchmark_prompt`, `benchmark_solution`.
"""

from __future__ import annotations

import re
from collections import defaultdict

from ..tools.tasks import Task

N = 5


def normalise_text(text: str) -> str:
    return " ".join(text.lower().split())


def normalise_code(code: str) -> str:
    """Code with comments, blank lines and trailing spaces removed: two rows equal under this are duplicates."""
    lines = [re.sub(r"\s+#.*$|^\s*#.*$", "", ln).rstrip() for ln in code.splitlines()]
    return "\n".join(ln for ln in lines if ln.strip())


def ngrams(text: str, n: int = N) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+|[^\w\s]", text.lower())
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


class Decontaminator:
    def __init__(self, protected: list[Task], threshold: float = 0.9, external: list[Task] | None = None) -> None:
        self.threshold = threshold
        external = external or []
        self.external = {t.id for t in external}
        self.prompts = {normalise_text(t.prompt): t.id for t in [*protected, *external]}
        self.references = {normalise_code(t.reference): t.id for t in protected if t.reference}
        self.grams = {t.id: ngrams(t.prompt) for t in [*protected, *external]}
        self.code_grams = [ngrams(normalise_code(t.reference)) for t in external if t.reference]
        self.index: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for tid, grams in self.grams.items():
            for g in grams:
                self.index[g].add(tid)
        self._task_cache: dict[str, str | None] = {}

    def task_overlap(self, task: Task) -> str | None:
        """Why `task` overlaps a protected task ("prompt_exact" or "prompt_ngram"), or None."""
        if task.id not in self._task_cache:
            self._task_cache[task.id] = self._task_overlap(task)
        return self._task_cache[task.id]

    def _task_overlap(self, task: Task) -> str | None:
        for text in task.wordings:
            why = self._prompt_overlap(text)
            if why:
                return why
        return None

    def _prompt_overlap(self, prompt: str) -> str | None:
        exact = self.prompts.get(normalise_text(prompt))
        if exact is not None:
            return "benchmark_prompt" if exact in self.external else "prompt_exact"
        grams = ngrams(prompt)
        shared: dict[str, int] = defaultdict(int)
        for g in grams:
            for tid in self.index.get(g, ()):
                shared[tid] += 1
        for tid, k in shared.items():
            if k / (len(grams) + len(self.grams[tid]) - k) >= self.threshold:
                return "benchmark_prompt" if tid in self.external else "prompt_ngram"
        return None

    def overlap(self, task: Task, code: str) -> str | None:
        """Why a row (`task`, its solution `code`) must not be trained on, or None."""
        why = self.task_overlap(task)
        if why:
            return why
        solution = normalise_code(code)
        if solution and solution in self.references and solution != normalise_code(task.reference):
            return "solution"
        if solution and self.code_grams:
            mine = ngrams(solution)
            if any(len(mine & g) / max(1, len(mine | g)) >= self.threshold for g in self.code_grams):
                return "benchmark_solution"
        return None
