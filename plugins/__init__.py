"""Plugins: every choice of a run (task families, tools, trainers, sandboxes, inference backends, planners, critics,
label filters), found through Python entry points.

Every built-in registers the way a plugin does, in pyproject.toml:

    [project.entry-points."autodidact.tasks"]
    addition = "autodidact.tools.tasks.addition:Addition"

so the path a user's plugin takes is the path the built-ins take, and it is exercised by every run. The groups:

| group | an entry point names |
|---|---|
| `autodidact.tasks` | a `TaskFamily` subclass |
| `autodidact.sandboxes` | a `Sandbox` subclass |
| `autodidact.tools` | a LangChain tool (`BaseTool`), or a function returning a list of them |
| `autodidact.trainers` | an `autodidact.trainers.Trainer` (name, hyper-parameters, data, train function) |
| `autodidact.backends` | an `autodidact.tools.inference.Backend` (how to sample from a checkpoint) |
| `autodidact.planners` | an `autodidact.agent.planning.Planner` (who plans a round) |
| `autodidact.critics` | an `autodidact.agent.critics.Critic` (who critiques a failed attempt) |
| `autodidact.label_filters` | an `autodidact.agent.labels.LabelFilter` subclass (which answers become training data) |

A module that is not packaged loads with `--plugin path/to/module.py`: it declares
`PLUGINS = {"tasks": {"name": Family}, "tools": {"name": tool}, ...}`. A plugin that fails to load is reported
with its name and error (`broken()`, and `autodidact tasks` / `autodidact tools`); the others load regardless.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

GROUPS = {
    "tasks": "autodidact.tasks",
    "sandboxes": "autodidact.sandboxes",
    "tools": "autodidact.tools",
    "trainers": "autodidact.trainers",
    "backends": "autodidact.backends",
    "planners": "autodidact.planners",
    "critics": "autodidact.critics",
    "label_filters": "autodidact.label_filters",
}


@dataclass(frozen=True)
class Plugin:
    group: str
    name: str
    origin: str
    """Where it came from: the distribution that declares it (name and version), or the plugin file."""
    value: Any = None
    error: str | None = None

    @property
    def description(self) -> str:
        if self.error:
            return f"failed to load: {self.error}"
        text = getattr(self.value, "description", None) or (self.value.__doc__ or "")
        return str(text).strip().splitlines()[0] if str(text).strip() else ""


_files: list[Path] = []
_found: dict[str, list[Plugin]] = {}


def load_file(path: str | Path) -> None:
    """Add the plugins a module file declares in `PLUGINS` (loaded when a group is next read)."""
    file = Path(path).resolve()
    if not file.is_file():
        raise FileNotFoundError(f"plugin file {path} does not exist")
    if file not in _files:
        _files.append(file)
        _found.clear()


def discover(group: str) -> list[Plugin]:
    """Every plugin of `group` (one of GROUPS), loaded or with the error that stopped it; cached."""
    if group not in _found:
        found = [_from_entry_point(group, ep) for ep in entry_points(group=GROUPS[group])]
        for file in _files:
            found += _from_file(group, file)
        _found[group] = found
    return _found[group]


def _from_entry_point(group: str, ep: Any) -> Plugin:
    origin = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else ep.value
    try:
        return Plugin(group, ep.name, origin, value=ep.load())
    except Exception as exc:  # a broken plugin must not take the others down
        return Plugin(group, ep.name, origin, error=f"{type(exc).__name__}: {exc}")


def _from_file(group: str, file: Path) -> list[Plugin]:
    name = f"autodidact_plugin_{file.stem}"
    try:
        module = sys.modules.get(name)
        if module is None:
            spec = importlib.util.spec_from_file_location(name, file)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules[name] = module
        declared = module.PLUGINS
        return [Plugin(group, key, str(file), value=value) for key, value in declared.get(group, {}).items()]
    except Exception as exc:
        return [Plugin(group, file.stem, str(file), error=f"{type(exc).__name__}: {exc}")]


def broken(group: str | None = None) -> list[Plugin]:
    """The plugins that failed to load (of one group, or of all)."""
    return [p for g in ([group] if group else list(GROUPS)) for p in discover(g) if p.error]


class Registry(Mapping[str, Any]):
    """The loaded plugins of one group by name, read when first used (and again after `load_file`). Of two
    with the same name, the later (a plugin file after the entry points) wins."""

    def __init__(self, group: str) -> None:
        self.group = group

    def _items(self) -> dict[str, Any]:
        return {p.name: p.value for p in discover(self.group) if p.error is None}

    def __getitem__(self, name: str) -> Any:
        return self._items()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())


__all__ = ["GROUPS", "Plugin", "Registry", "broken", "discover", "load_file"]
