"""Prompt templates, shipped as package data (`*.txt`, formatted with `str.format`)."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def template(name: str) -> str:
    """The text of `prompts/<name>.txt`."""
    return resources.files(__name__).joinpath(f"{name}.txt").read_text(encoding="utf-8")


def render(name: str, **fields: object) -> str:
    """`prompts/<name>.txt` with `fields` filled in; trailing whitespace removed."""
    return template(name).format(**fields).rstrip()


__all__ = ["template", "render"]
