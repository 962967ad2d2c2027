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

from ..trainers import PARAMS, TrainParams, train_dpo, train_grpo, train_sft, verified_reward

DATA = {
    "sft": "JSONL of verified rows: {prompt, completion}",
    "dpo": "JSONL of preference pairs: {prompt, chosen, rejected}",
    "grpo": "JSONL of prompts: {prompt, task} with task a JSON-encoded task of a registered family",
}
PURPOSE = {
    "sft": "Supervised fine-tuning on verified answers (rejection sampling, loss on the completion only).",
    "dpo": "Direct preference optimisation on (failed, verified) answer pairs.",
    "grpo": "GRPO with an online reward: each sampled completion is run in the sandbox and verified.",
}


def params_schema(method: str) -> type[BaseModel]:
    """A pydantic model of the tool's arguments: where the data is, and every hyper-parameter of `method`."""
    cls: type[TrainParams] = PARAMS[method]
    hints = get_type_hints(cls)
    spec: dict[str, Any] = {
        "base": (str, Field(description="Checkpoint directory to start from.")),
        "data_file": (str, Field(description=DATA[method])),
        "output_dir": (str, Field(description="Where to save the trained checkpoint.")),
        "log_dir": (str | None, Field(default=None, description="Where to write the training logs.")),
    }
    if method == "grpo":
        spec["sandbox"] = (str, Field(default="local", description="Sandbox backend that verifies completions."))
    for f in fields(cls):
        default = f.default if f.default is not MISSING else None
        spec[f.name] = (hints[f.name], Field(default=default, description=f.metadata.get("help", "")))
    return create_model(f"{method.upper()}Arguments", **spec)


def _run(method: str, **kwargs: Any) -> dict[str, Any]:
    cls = PARAMS[method]
    params = cls(**{f.name: kwargs.pop(f.name) for f in fields(cls) if f.name in kwargs})
    rows = [json.loads(line) for line in Path(kwargs.pop("data_file")).read_text().splitlines() if line.strip()]
    common = {**kwargs, "progress": False}
    if method == "sft":
        return train_sft(rows=rows, params=params, **common).to_dict()  # type: ignore[arg-type]
    if method == "dpo":
        return train_dpo(pairs=rows, params=params, **common).to_dict()  # type: ignore[arg-type]
    from ..sandbox import get_sandbox
    from .tasks import verify_each

    with get_sandbox(common.pop("sandbox")) as sandbox:
        reward = verified_reward(lambda pairs: verify_each(pairs, sandbox), params.format_penalty)  # type: ignore[attr-defined]
        return train_grpo(prompts=rows, reward=reward, params=params, **common).to_dict()  # type: ignore[arg-type]


def trainer_tools() -> list[StructuredTool]:
    """`train_sft`, `train_dpo` and `train_grpo` as LangChain tools."""
    tools = []
    for method in PARAMS:
        tools.append(
            StructuredTool.from_function(
                func=lambda _m=method, **kw: _run(_m, **kw),
                name=f"train_{method}",
                description=PURPOSE[method],
                args_schema=params_schema(method),
            )
        )
    return tools
