"""The options of `autodidact run`, generated from the config's fields: help and defaults are written once, in
`agent/config.py`. Every field is reachable: by its own flag, or by `--set SECTION.FIELD=VALUE`.

A field's type decides how its value is read (int, float, bool, a comma-separated list, a `Literal`'s choices);
`positive` and `fraction` in its metadata bound it; `registry` lists the registered names in the help (the
names a plugin adds are accepted too, and checked once the plugins are loaded).
"""

from __future__ import annotations

import argparse
import json
import types
import typing
from collections.abc import Callable
from typing import Any

from ..config import SECTIONS, RunConfig, default_of, locate, settings
from ..errors import UserError

GROUPS = {
    None: "the run",
    "tasks": "tasks",
    "budget": "budget",
    "sampling": "sampling",
    "selection": "selection of training data",
    "curriculum": "curriculum",
    "evaluation": "evaluation",
    "gate": "the gate's criteria",
    "training": "training",
    "agent": "the model as agent: an LLM on an OpenAI-compatible server may plan rounds and critique attempts; "
    "its API key is read from $AUTODIDACT_LLM_API_KEY (else $OPENAI_API_KEY)",
    "inference": "inference backend",
}


def _hints(section: str | None) -> dict[str, Any]:
    return typing.get_type_hints(RunConfig if section is None else SECTIONS[section])


def _base(kind: Any) -> Any:
    """The type without `| None`."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(kind) if a is not type(None))
    return kind


def reader(section: str | None, spec: Any) -> Callable[[str], Any]:
    """How the text of `spec`'s value is read and bounded; raises ValueError with what is wrong."""
    kind = _base(_hints(section)[spec.name])
    meta = spec.metadata
    if meta.get("raw"):  # read as given; `run.configure` checks it against the task families
        return str
    if typing.get_origin(kind) is typing.Literal:
        choices = typing.get_args(kind)

        def literal(text: str) -> Any:
            if text not in choices:
                raise ValueError(f"choose one of {', '.join(choices)}")
            return text

        return literal
    if kind is bool:
        return lambda text: {"true": True, "false": False, "1": True, "0": False}[text.lower()]
    if typing.get_origin(kind) is dict:
        return json.loads
    if typing.get_origin(kind) is list:
        item = typing.get_args(kind)[0]
        return lambda text: [item(x.strip()) for x in text.split(",") if x.strip()]
    if kind in (int, float):

        def number(text: str) -> Any:
            value = kind(text)
            if meta.get("positive") and value <= 0:
                raise ValueError(f"must be positive, got {text}")
            if meta.get("fraction") and not 0 <= value <= 1:
                raise ValueError(f"must be between 0 and 1, got {text}")
            if value < 0:
                raise ValueError(f"must not be negative, got {text}")
            return value

        return number
    return str


def _argparse_type(read: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return read(text)
        except (ValueError, KeyError) as exc:
            raise argparse.ArgumentTypeError(str(exc) or f"cannot read {text!r}") from None

    return parse


def flag_of(spec: Any) -> str | None:
    meta = spec.metadata
    if meta.get("internal") or ("flag" in meta and meta["flag"] is None):
        return None
    return str(meta.get("flag") or "--" + spec.name.replace("_", "-"))


def dest_of(section: str | None, spec: Any) -> str:
    return spec.name if section is None else f"{section}.{spec.name}"


def _help(spec: Any) -> str:
    text = str(spec.metadata["help"]).rstrip(".")
    registry = spec.metadata.get("registry")
    if registry:
        from ...plugins import Registry

        text += f" (registered: {', '.join(Registry(registry))})"
    default = default_of(spec)
    if default not in (None, [], {}) and "default" not in text:
        shown = f"{default:g}" if isinstance(default, float) else default
        text += f" (default {shown})"
    return text.replace("%", "%%")


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """One flag per config field that has one, in a group per section; unset flags are absent from the result."""
    groups: dict[str | None, Any] = {}
    for section, spec in settings():
        flag = flag_of(spec)
        if flag is None:
            continue
        if section not in groups:
            groups[section] = parser.add_argument_group(GROUPS[section])
        kwargs: dict[str, Any] = {"dest": dest_of(section, spec), "default": argparse.SUPPRESS, "help": _help(spec)}
        kind = _base(_hints(section)[spec.name])
        if kind is bool:
            kwargs["action"] = "store_true"
        elif spec.metadata.get("raw"):
            kwargs["metavar"] = "A,B"
        else:
            kwargs["type"] = _argparse_type(reader(section, spec))
            kwargs["metavar"] = "NAME" if spec.metadata.get("registry") else _metavar(spec.name, kind)
            if typing.get_origin(kind) is typing.Literal:
                kwargs["choices"] = typing.get_args(kind)
                kwargs.pop("metavar")
                kwargs["type"] = str
        groups[section].add_argument(flag, **kwargs)


def _metavar(name: str, kind: Any) -> str:
    if kind in (int, float):
        return "N"
    if typing.get_origin(kind) is list:
        return "A,B"
    return name.rsplit("_", 1)[-1].upper()


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The config settings the command line gave: the flags that were set, then each `--set`."""
    names = {dest_of(section, spec) for section, spec in settings()}
    found = {k: v for k, v in vars(args).items() if k in names}
    for item in getattr(args, "set", None) or []:
        name, value = parse_set(item)
        found[name] = value
    return found


def parse_set(item: str) -> tuple[str, Any]:
    """`SECTION.FIELD=VALUE` (or FIELD=VALUE for a top-level one), read by the field's type; one-line errors."""
    name, sep, text = item.partition("=")
    if not sep:
        raise UserError(f"--set {item}: write SECTION.FIELD=VALUE, e.g. --set sampling.temperature=0.6")
    try:
        section, key = locate(name.strip())
    except ValueError as exc:
        raise UserError(f"--set {item}: {exc}") from None
    spec = next(s for sec, s in settings() if sec == section and s.name == key)
    if spec.metadata.get("internal"):
        raise UserError(f"--set {item}: {name} is recorded by the run, not set")
    try:
        value = reader(section, spec)(text.strip())
    except (ValueError, KeyError) as exc:
        raise UserError(f"--set {item}: {exc or 'cannot read ' + repr(text)}") from None
    return dest_of(section, spec), value
