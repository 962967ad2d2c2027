"""Degenerate repetition: an answer that has begun to repeat itself, token for token, is stopped.

A small model decoding greedily sometimes falls into a loop (`max(prefixes, max(prefixes, ...`, the same
docstring line again and again, `fib4(25) -> 212\\n    fib4(26) -> 324 ...`) and writes until its token limit. Such
an answer never closes its code block, so it never passes, and it costs the most of any answer: it decodes alone
at the end of its batch for hundreds of steps. On HumanEval, 17-24 of the 164 greedy answers of the default model
and its champions ran to the 384-token limit and wrote 40% of the benchmark's tokens.

`Looping` tells whether a row's tokens end in one block repeated: the last `SPAN` tokens (at least `REPEATS` times
the block) all equal the token `period` places before them, for some period up to `PERIOD`, with every digit token
counted as one symbol so that a counting loop (`fib4(26)`, `fib4(27)`) is caught too. Measured on the 744
thousand tokens of answers that ten default runs wrote (attempts, held-out, guard and HumanEval answers of the
start model and its champions), these settings stop 305 answers, none of which passed, and save 6% of the
tokens (17% on HumanEval); a span of 32 tokens would also have stopped a passing answer that lists the numbers
1 to 20.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SPAN = 64
"""Repeated tokens, at the least, before an answer counts as looping."""

PERIOD = 32
"""The longest repeated block looked for, in tokens."""

REPEATS = 4
"""Copies of the block, at the least (a block longer than SPAN / REPEATS must repeat over more than SPAN)."""

EVERY = 8
"""Tokens between checks of a row (the check compares up to `PERIOD` x `SPAN` tokens)."""

DIGIT = -1


class Looping:
    """Tells whether a row of token ids ends in a loop, for one tokenizer (its digit tokens count as one)."""

    def __init__(self, tokenizer: Any) -> None:
        vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        self.digits = frozenset(i for i, t in enumerate(vocab) if t and t.lstrip("Ġ▁ ").isdigit())

    def __call__(self, tokens: Sequence[int]) -> bool:
        n = len(tokens)
        if n < SPAN or n % EVERY:
            return False
        tail = [DIGIT if t in self.digits else t for t in tokens[-max(SPAN, REPEATS * PERIOD) :]]
        size = len(tail)
        for period in range(1, PERIOD + 1):
            span = max(SPAN, REPEATS * period)
            if span > size:
                break
            if all(tail[i] == tail[i - period] for i in range(size - span + period, size)):
                return True
        return False
