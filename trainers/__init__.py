"""Trainers: turn selected, verified data into a candidate checkpoint."""

from .sft import SFTParams, TrainingError, TrainResult, train_sft

__all__ = ["SFTParams", "TrainResult", "TrainingError", "train_sft"]
