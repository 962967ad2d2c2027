"""On a CPU, TRL's fused LM head scores the labelled positions only, as it does on a GPU.

TRL's trainers replace a model's LM head with a chunked kernel that turns the last hidden states into the
log-probabilities of the labels (`trl.trainer.utils.add_fused_lm_head`). On a device with Triton it scores only the
positions that have a label; elsewhere it scores every position, labelled or not, and masks the rest out afterwards,
so that a compiler (Neuron's) sees the same shapes in every batch. A CPU runs eagerly and has no shapes to keep, and
there the head's projection onto the 49k-word vocabulary of every prompt and padding position, forward and again in
the backward, was a third of an SFT step of the default model: under completion-only loss most of a row's tokens
are its prompt's. `labelled_positions_only` gives the CPU the labelled-positions path: the same loss and gradients
(`tests/test_trainers.py`), and SFT steps of the default model 1.4x faster on 2 cores (`bench/lm_head.py`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def labelled_positions_only() -> Iterator[bool]:
    """Within the block, TRL's fused LM head scores only labelled positions on a CPU too. Yields whether it does:
    False with a TRL that no longer makes that choice in `trl.trainer.utils._use_triton`, whose own behaviour then
    stands."""
    from trl.trainer import utils

    chooser = getattr(utils, "_use_triton", None)
    if chooser is None:
        yield False
        return
    utils._use_triton = lambda device: device.type == "cpu" or chooser(device)
    try:
        yield True
    finally:
        utils._use_triton = chooser
