"""Weight-space blending: a candidate moved part of the way back to the model it was trained from.

`blend(parent, candidate, output, alpha)` writes `parent + alpha * (candidate - parent)`, parameter by parameter
(WiSE-FT: Wortsman et al. 2022, "Robust fine-tuning of zero-shot models"). Fine-tuning moves the weights along a
path on which the practice tasks improve early and what the model could do before erodes later; the midpoint of
a fine-tune keeps most of its gain and much of what it forgot. On the default goal (seed 3), a round-1 candidate
that reached 82 of 200 held-out tasks against the start's 64 lost 6 of the 31 guard tasks and was rolled back;
blended halfway it kept 79 and lost 1.

Both models are whole checkpoints of one architecture (a LoRA adapter kept as an adapter is not blended here).
The blend is saved with the candidate's tokenizer and dtype, written beside `output` and renamed into place.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from .common import work_dir


def blend(parent: str, candidate: str, output: Path, alpha: float) -> float:
    """Write the blend of `candidate` with `parent` at `alpha` (0: the parent, 1: the candidate) to `output`;
    returns the seconds it took."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], not {alpha}")
    started = time.monotonic()
    tuned = AutoModelForCausalLM.from_pretrained(candidate, dtype=torch.float32)
    dtype = tuned.config.dtype if isinstance(tuned.config.dtype, torch.dtype) else torch.float32
    model = AutoModelForCausalLM.from_pretrained(parent, dtype=torch.float32)
    tuned_params = dict(tuned.named_parameters())
    if set(tuned_params) != {name for name, _ in model.named_parameters()}:
        raise ValueError(f"{candidate} and {parent} do not have the same parameters: they cannot be blended")
    with torch.no_grad():
        # named_parameters() names a tied weight (the embeddings and the output layer) once: each moves once.
        for name, weight in model.named_parameters():
            weight.lerp_(tuned_params[name], alpha)
    del tuned, tuned_params
    work = work_dir(output)
    try:
        final = work / "model"
        model = model.to(dtype=dtype)  # type: ignore[call-arg]  # transformers' stubs wrap `to`
        model.save_pretrained(str(final))
        AutoTokenizer.from_pretrained(candidate).save_pretrained(str(final))
        os.replace(final, output)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return time.monotonic() - started
