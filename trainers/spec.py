"""What a trainer is to the loop: a name, its hyper-parameters, which data select builds for it, and a train
function. The built-ins (SFT, DPO, GRPO) are registered as plugins in the `autodidact.trainers` entry point
group, the way a user's trainer is.

`data` names the file select writes for the round: `selected` (verified {prompt, completion} rows), `pairs`
({prompt, chosen, rejected}) or `prompts` ({prompt, task}, for online methods that verify their own samples).
`train(base=, items=, output_dir=, params=, log_dir=, progress=, verify_all=)` returns a `TrainResult`;
`verify_all(pairs)` verifies (task, code) pairs in the run's sandbox, for trainers that reward samples online.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .common import TrainParams, TrainResult
from .dpo import DPOParams, train_dpo
from .grpo import GRPOParams, train_grpo, verified_reward
from .sft import SFTParams, train_sft


@dataclass(frozen=True)
class Trainer:
    name: str
    description: str
    params: type[TrainParams]
    data: Literal["selected", "pairs", "prompts"]
    train: Callable[..., TrainResult]


def _sft(*, items: list[dict[str, Any]], verify_all: Any = None, **kw: Any) -> TrainResult:
    return train_sft(rows=items, **kw)


def _dpo(*, items: list[dict[str, Any]], verify_all: Any = None, **kw: Any) -> TrainResult:
    return train_dpo(pairs=items, **kw)


def _grpo(*, items: list[dict[str, Any]], verify_all: Any, params: Any, **kw: Any) -> TrainResult:
    reward = verified_reward(verify_all, params.format_penalty)
    return train_grpo(prompts=items, reward=reward, params=params, **kw)


SFT = Trainer(
    "sft", "Supervised fine-tuning on verified answers (rejection sampling, loss on the completion only).",
    SFTParams, "selected", _sft,
)  # fmt: skip
DPO = Trainer("dpo", "Direct preference optimisation on (failed, verified) answer pairs.", DPOParams, "pairs", _dpo)
GRPO = Trainer(
    "grpo", "GRPO with an online reward: each sampled completion is run in the sandbox and verified.",
    GRPOParams, "prompts", _grpo,
)  # fmt: skip
