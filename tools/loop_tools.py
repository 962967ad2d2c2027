"""The loop's own steps as agent tools (LangChain tools with typed schemas), usable outside a run: list the task
families, generate tasks, sample attempts from a model, and verify an answer in the sandbox.

A task is named by (family, split, difficulty, seed, index), so a caller can verify an answer to a task it was
shown without ever seeing the task's hidden tests. Training is `train_<method>` (`tools.train`), running code is
`run_python`. Inside a run, the planner has its own tools bound to the run (`agent.planning.desk`); promotion is
not a tool at all: only the evaluator gate promotes.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from . import NOT_FOR_PLANNING
from .tasks import FAMILIES, Task, get_family


class TaskRef(BaseModel):
    family: str = Field(description="A task family (list_task_families).")
    split: Literal["train", "heldout"] = Field(default="train", description="Practice or evaluation tasks.")
    difficulty: int = Field(default=1, ge=1, description="The difficulty level.")
    seed: int = Field(default=0, description="Which tasks: the same seed gives the same tasks.")


class GenerateArgs(TaskRef):
    n: int = Field(default=5, ge=1, le=500, description="How many tasks.")


class VerifyArgs(TaskRef):
    index: int = Field(ge=0, description="The task's position in generate_tasks' list.")
    reply: str = Field(description="The answer, as a model would write it (e.g. a ```python block).")
    sandbox: str = Field(default="local", description="The sandbox backend.")


class SampleArgs(BaseModel):
    model: str | None = Field(default=None, description="A checkpoint directory (default: the bundled model).")
    prompts: list[str] = Field(description="User messages to answer.")
    n: int = Field(default=1, ge=1, le=64, description="Samples per prompt.")
    temperature: float = Field(default=0.8, ge=0.0, description="0 is greedy.")
    max_new_tokens: int = Field(default=256, ge=1, description="The longest answer, in tokens.")


def _tasks(family: str, split: Any, difficulty: int, seed: int, n: int) -> list[Task]:
    return get_family(family).generate(split=split, difficulty=difficulty, n=n, seed=seed)


def list_task_families() -> list[dict[str, Any]]:
    return [
        {"name": name, "description": cls.description, "levels": list(cls.levels)}
        for name, cls in FAMILIES.items()
        if not cls.run_only
    ]


def generate_tasks(family: str, split: str = "train", difficulty: int = 1, seed: int = 0, n: int = 5) -> list[dict]:
    return [
        {"index": i, "prompt": t.prompt, "difficulty": t.difficulty}
        for i, t in enumerate(_tasks(family, split, difficulty, seed, n))
    ]


def verify_answer(
    family: str,
    index: int,
    reply: str,
    split: str = "train",
    difficulty: int = 1,
    seed: int = 0,
    sandbox: str = "local",
) -> dict[str, Any]:
    from ..sandbox import get_sandbox

    tasks = _tasks(family, split, difficulty, seed, index + 1)
    if index >= len(tasks):
        raise ValueError(f"{family} has only {len(tasks)} tasks at difficulty {difficulty}")
    task, kind = tasks[index], get_family(family)
    with get_sandbox(sandbox) as box:
        verdict = kind.verify(task, kind.extract(reply, task), box)
    return {"passed": verdict.passed, "feedback": verdict.feedback}


def sample_attempts(
    prompts: list[str], model: str | None = None, n: int = 1, temperature: float = 0.8, max_new_tokens: int = 256
) -> list[list[str]]:
    from .generate import Generator, SamplingParams
    from .models import resolve_model

    params = SamplingParams(n=n, temperature=temperature, max_new_tokens=max_new_tokens)
    return Generator(resolve_model(model)).complete(prompts, params)


def loop_tools() -> list[StructuredTool]:
    """`list_task_families`, `generate_tasks`, `sample_attempts`, `verify_answer` as LangChain tools."""
    return [
        StructuredTool.from_function(
            list_task_families, description="The task families: name, description, difficulty levels."
        ),
        StructuredTool.from_function(
            generate_tasks, args_schema=GenerateArgs, description="Tasks of a family (prompts, no hidden tests)."
        ),
        StructuredTool.from_function(
            sample_attempts,
            args_schema=SampleArgs,
            description="Sample answers to prompts from a model.",
            # Inside a run it would load a second model beside the champion; the planner has probe_levels.
            metadata={NOT_FOR_PLANNING: True},
        ),
        StructuredTool.from_function(
            verify_answer, args_schema=VerifyArgs, description="Check an answer to a task in the sandbox."
        ),
    ]
