"""Trainers: turn selected, verified data into a candidate checkpoint (SFT, DPO, GRPO; full or LoRA)."""

from .common import TrainingError, TrainParams, TrainResult, choose_adapter
from .dpo import DPOParams, train_dpo
from .grpo import GRPOParams, train_grpo, verified_reward
from .sft import SFTParams, train_sft

METHODS = ("sft", "dpo", "grpo")
PARAMS: dict[str, type[TrainParams]] = {"sft": SFTParams, "dpo": DPOParams, "grpo": GRPOParams}

__all__ = [
    "METHODS",
    "PARAMS",
    "DPOParams",
    "GRPOParams",
    "SFTParams",
    "TrainParams",
    "TrainResult",
    "TrainingError",
    "choose_adapter",
    "train_dpo",
    "train_grpo",
    "train_sft",
    "verified_reward",
]
