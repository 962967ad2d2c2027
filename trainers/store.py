"""The checkpoint store of a run: candidates with their lineage, the champion pointer, rollback, disk hygiene.

    models/round-K/          a save_pretrained directory (once rejected, only its record)
        lineage.json         parent, method, hyper-parameters, data files with content hashes, training
                             metrics, and the gate decision that promoted or rejected it
        README.md            the model card

with a champion pointer (one line: where the current champion lives, replaced atomically) and its history (every
change of champion, in order: promotions and rollbacks), at the paths the run directory names for them
(`agent.rundir.RunDir.store`).

A checkpoint's id is its path relative to the run directory; the starting model keeps its own location.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from ..tools.files import atomic_write_text
from .card import model_card

LINEAGE = "lineage.json"
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.gguf")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class CheckpointStore:
    def __init__(self, root: Path, *, pointer: Path, history: Path) -> None:
        self.root = root
        self.pointer = pointer
        self.history = history

    # -- records -----------------------------------------------------------------------------------------
    def path(self, cid: str) -> Path:
        return self.root / cid

    def record(self, cid: str) -> dict[str, Any] | None:
        """The lineage record of checkpoint `cid`, or None (the starting model, or nothing recorded)."""
        try:
            return dict(json.loads((self.path(cid) / LINEAGE).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    def _write(self, record: dict[str, Any]) -> None:
        folder = self.path(record["id"])
        atomic_write_text(folder / LINEAGE, json.dumps(record, indent=2) + "\n")
        atomic_write_text(folder / "README.md", model_card(record))

    def register(
        self,
        cid: str,
        *,
        parent: str,
        round_no: int,
        goal: str,
        method: str,
        adapter: str,
        params: dict[str, Any],
        data: list[Path],
        metrics: dict[str, Any],
    ) -> dict[str, Any]:
        """Record how checkpoint `cid` was made; `data` are the files its rows came from (hashed here)."""
        parent_record = self.record(parent)
        record = {
            "id": cid,
            "parent": parent,
            "round": round_no,
            "goal": goal,
            "method": method,
            "adapter": adapter,
            "params": params,
            "data": [self._describe(p) for p in data],
            "metrics": metrics,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "ancestry": [parent] + (parent_record or {}).get("ancestry", []),
            "decision": None,
        }
        self._write(record)
        return record

    def _describe(self, path: Path) -> dict[str, Any]:
        with open(path, "rb") as f:
            rows = sum(1 for line in f if line.strip())
        return {"path": str(path.relative_to(self.root)), "sha256": file_sha256(path), "rows": rows}

    def decide(self, cid: str, decision: dict[str, Any], *, keep_weights: bool) -> None:
        """Add the gate's decision to the record; a rejected candidate's weights go unless `keep_weights`."""
        record = self.record(cid)
        if record is None:
            return
        record["decision"] = decision
        if decision.get("verdict") != "promote" and not keep_weights:
            for pattern in WEIGHT_PATTERNS:
                for weights in self.path(cid).glob(pattern):
                    weights.unlink()
            record["weights_deleted"] = True
        self._write(record)

    def lineage(self, cid: str) -> list[dict[str, Any]]:
        """`cid`'s record, its parent's, and so on back to the starting model (which has none)."""
        chain, current = [], self.record(cid)
        while current is not None:
            chain.append(current)
            current = self.record(current["parent"])
        return chain

    def has_weights(self, cid: str) -> bool:
        return any(any(self.path(cid).glob(p)) for p in WEIGHT_PATTERNS)

    # -- the champion pointer ----------------------------------------------------------------------------
    def champion(self) -> str | None:
        try:
            return self.pointer.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def champions(self) -> list[dict[str, Any]]:
        try:
            text = self.history.read_text(encoding="utf-8")
        except OSError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def set_champion(self, cid: str, *, reason: str, round_no: int) -> None:
        """Make `cid` the champion: the history line first, then the pointer, each written atomically."""
        history = self.champions()
        if history and history[-1]["champion"] == cid:
            return  # a resumed node repeating itself
        entry = {"champion": cid, "round": round_no, "reason": reason, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        atomic_write_text(self.history, "".join(json.dumps(e) + "\n" for e in [*history, entry]))
        atomic_write_text(self.pointer, cid + "\n")

    def restorable_ancestors(self, cid: str) -> list[str]:
        """The ancestors of `cid`, nearest first, that a rollback can return to: those whose weights still exist
        (the starting model, which has no record, always counts)."""
        ancestry = (self.record(cid) or {}).get("ancestry", [])
        return [str(a) for a in ancestry if self.record(a) is None or self.has_weights(a)]
