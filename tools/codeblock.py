"""Extracting the code from a model's markdown reply."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(reply: str, entry_point: str | None = None) -> str:
    """The Python code of a reply.

    Takes fenced blocks (```python, ```py or bare ```; an unclosed final block counts, since sampling may stop
    at the token limit). When several blocks exist, prefers the first that defines `entry_point`. With no fence,
    the reply is returned as is when it looks like code (starts with `def`, `import` or `from`), else "".
    """
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(reply)]
    blocks = [(lang, body) for lang, body in blocks if lang in ("", "python", "py", "python3")]
    if blocks:
        if entry_point:
            pattern = re.compile(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", re.MULTILINE)
            for _, body in blocks:
                if pattern.search(body):
                    return body.strip("\n")
        return blocks[0][1].strip("\n")
    text = reply.strip()
    if re.match(r"(def |import |from |class )", text):
        return text
    return ""


def truncate_after_code(reply: str) -> str:
    """The reply cut right after its first closed code block (what the model is trained to write)."""
    match = _FENCE.search(reply)
    if match is None or not match.group(0).endswith("```"):
        return reply
    return reply[: match.end()]
