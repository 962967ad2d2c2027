"""The trainers as agent tools: LangChain tools with typed argument schemas, so a chat model (or the planner)
can call `train_sft`, `train_dpo` and `train_grpo` with arguments it can see described and validated.

Each schema is built from the method's hyper-parameter dataclass (types, defaults and `help` texts), so the
tool and the trainer can never disagree. A tool reads its data from a JSONL file and returns the
`TrainResult` as a dict.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, get_type_hints

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field, create_model

from ..trainers import TRAINERS, TrainParams
from . import NOT_FOR_PLANNING

DATA = {
    "selected": "JSONL of verified rows: {prompt, completion}",
    "pairs": "JSONL of preference pairs: {prompt, chosen, rejected}",
    "prompts": "JSONL of prompts: {prompt, task} with task a JSON-encoded task of a registered family",
}


def params_schema(method: str) -> type[BaseModel]:
    """A pydantic model of the tool's arguments: where the data is, and every hyper-parameter of `method`."""
    trainer = TRAINERS[method]
    cls: type[TrainParams] = trainer.params
    hints = get_type_hints(cls)
    spec: dict[str, Any] = {
        "base": (str, Field(description="Checkpoint directory to start from.")),
        "data_file": (str, Field(description=DATA[trainer.data])),
        "output_dir": (str, Field(description="Where to save the trained checkpoint.")),
        "log_dir": (str | None, Field(default=None, description="Where to write the training logs.")),
    }
    if trainer.data == "prompts":
        spec["sandbox"] = (str, Field(default="local", description="Sandbox backend that verifies completions."))
    for f in fields(cls):
        default = f.default if f.default is not MISSING else None
        spec[f.name] = (hints[f.name], Field(default=default, description=f.metadata.get("help", "")))
    return create_model(f"{method.upper()}Arguments", **spec)


def _run(method: str, **kwargs: Any) -> dict[str, Any]:
    trainer = TRAINERS[method]
    params = trainer.params(**{f.name: kwargs.pop(f.name) for f in fields(trainer.params) if f.name in kwargs})
    rows = [json.loads(line) for line in Path(kwargs.pop("data_file")).read_text().splitlines() if line.strip()]
    common = {**kwargs, "progress": False}
    if trainer.data != "prompts":
        return trainer.train(items=rows, params=params, verify_all=None, **common).to_dict()
    from ..sandbox import get_sandbox
    from .tasks import verify_each

    with get_sandbox(common.pop("sandbox")) as sandbox:
        verify_all = lambda pairs: verify_each(pairs, sandbox)  # noqa: E731
        return trainer.train(items=rows, params=params, verify_all=verify_all, **common).to_dict()


def trainer_tools() -> list[StructuredTool]:
    """`train_<name>` for every registered trainer (`train_sft`, `train_dpo`, `train_grpo`, plugins'), as
    LangChain tools."""
    return [
        StructuredTool.from_function(
            func=lambda _m=name, **kw: _run(_m, **kw),
            name=f"train_{name}",
            description=trainer.description,
            args_schema=params_schema(name),
            metadata={NOT_FOR_PLANNING: True},  # a run trains in its own stage, judged by the gate
        )
        for name, trainer in TRAINERS.items()
    ]
