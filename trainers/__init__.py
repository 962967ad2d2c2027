"""Trainers: turn selected, verified data into a candidate checkpoint (SFT, DPO, GRPO; full or LoRA)."""

from collections.abc import Iterator, Mapping

from ..plugins import Registry
from .common import TrainingError, TrainParams, TrainResult, batch_args, choose_adapter
from .dpo import DPOParams, train_dpo
from .grpo import GRPOParams, train_grpo, verified_reward
from .sft import SFTParams, train_sft
from .spec import Trainer

TRAINERS: Mapping[str, Trainer] = Registry("trainers")
"""Every trainer, built-in or plugin, by name (entry point group `autodidact.trainers`)."""


class _Params(Mapping[str, type[TrainParams]]):
    """Each trainer's hyper-parameter dataclass, by trainer name."""

    def __getitem__(self, name: str) -> type[TrainParams]:
        return TRAINERS[name].params

    def __iter__(self) -> Iterator[str]:
        return iter(TRAINERS)

    def __len__(self) -> int:
        return len(TRAINERS)


PARAMS: Mapping[str, type[TrainParams]] = _Params()

__all__ = [
    "PARAMS",
    "TRAINERS",
    "Trainer",
    "DPOParams",
    "GRPOParams",
    "SFTParams",
    "TrainParams",
    "TrainResult",
    "TrainingError",
    "batch_args",
    "choose_adapter",
    "train_dpo",
    "train_grpo",
    "train_sft",
    "verified_reward",
]
