"""Progress bars for long stages: drawn on a terminal, silent in logs and pipes."""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm


def bar(total: int, description: str) -> Any:
    """A tqdm bar on stderr; disabled when stderr is not a terminal (the run log has a line per stage)."""
    return tqdm(
        total=total,
        desc=description,
        unit="it",
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        dynamic_ncols=True,
        leave=False,
    )
