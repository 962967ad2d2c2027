"""Chat models for the agent's own decisions (the LLM planner, the task writer, the critic).

Two kinds behind one `chat(messages, tools)` call:

- `OpenAIChat`: any OpenAI-compatible server (`vllm serve`, OpenAI, ...) through the `openai` client, with the
  server's native tool calling.
- `LocalChat`: a checkpoint on this machine through the transformers `Generator` (`--planner self` with the
  transformers backend). Small chat templates have no tool support, so the tools are described in the system
  message and a call is read back from a `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` block (the
  Hermes convention that tool-trained open models follow).

Whatever goes wrong on the way (a timeout, a server that is down or answers with an error, a reply that is not a
chat completion) is raised as one `ChatError` whose `kind` says which, so a caller can record it and fall back.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

API_KEY_ENV = "AUTODIDACT_LLM_API_KEY"


def api_key() -> str:
    """The key for an OpenAI-compatible server: $AUTODIDACT_LLM_API_KEY, else $OPENAI_API_KEY, else a placeholder
    (a local server checks none)."""
    return os.environ.get(API_KEY_ENV) or os.environ.get("OPENAI_API_KEY") or "EMPTY"


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str
    """The arguments as the model wrote them (JSON text, not yet parsed: it may be malformed)."""


@dataclass(frozen=True)
class Reply:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None

    def as_message(self) -> dict[str, Any]:
        """The reply as an assistant message for the next request."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        return message


class ChatError(Exception):
    """The chat model gave no usable reply. `kind`: timeout, down, server, bad_reply."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class ChatModel(Protocol):
    name: str

    def chat(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] = ()) -> Reply: ...


class OpenAIChat:
    """A model on an OpenAI-compatible server. Greedy (temperature 0), no retries: a failure is reported at once."""

    def __init__(self, base_url: str, model: str, *, timeout_s: float = 60.0, max_tokens: int = 1024) -> None:
        from openai import OpenAI

        self.name = model
        self.base_url = base_url
        self.max_tokens = max_tokens
        self.client = OpenAI(base_url=base_url, api_key=api_key(), timeout=timeout_s, max_retries=0)

    def chat(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] = ()) -> Reply:
        import openai

        extra: dict[str, Any] = {"tools": list(tools), "tool_choice": "auto"} if tools else {}
        try:
            response = self.client.chat.completions.create(
                model=self.name,
                messages=list(messages),  # type: ignore[arg-type]
                temperature=0.0,
                max_tokens=self.max_tokens,
                **extra,
            )
        except openai.APITimeoutError:
            raise ChatError("timeout", f"{self.base_url} did not answer within {self.client.timeout} s") from None
        except openai.APIConnectionError as exc:
            raise ChatError("down", f"cannot reach {self.base_url}: {_cause(exc)}") from None
        except openai.APIStatusError as exc:
            raise ChatError("server", f"{self.base_url} answered HTTP {exc.status_code}: {_cause(exc)}") from None
        except openai.OpenAIError as exc:
            raise ChatError("bad_reply", f"{self.base_url}: {_cause(exc)}") from None
        choices = getattr(response, "choices", None)
        if not choices:
            raise ChatError("bad_reply", f"{self.base_url} answered without a choice")
        message = choices[0].message
        calls = [
            ToolCall(id=c.id or f"call-{uuid.uuid4().hex[:8]}", name=c.function.name, arguments=c.function.arguments)
            for c in (message.tool_calls or [])
            if getattr(c, "function", None) is not None
        ]
        return Reply(text=message.content or "", tool_calls=calls, finish_reason=choices[0].finish_reason)


TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


class LocalChat:
    """A checkpoint on this machine (transformers), tools described in the system message (see the module doc)."""

    def __init__(self, generator: Any, *, max_tokens: int = 512) -> None:
        self.generator = generator
        self.name = generator.location
        self.max_tokens = max_tokens

    def chat(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] = ()) -> Reply:
        from .generate import SamplingParams

        tokenizer = self.generator.tokenizer
        shown = [_plain(m) for m in messages]
        if tools:
            listing = "\n".join(json.dumps(t["function"]) for t in tools)
            howto = (
                "You can call these tools. To call one, reply with exactly\n"
                '<tool_call>{"name": NAME, "arguments": {...}}</tool_call>\n'
                f"Tools:\n{listing}"
            )
            if shown and shown[0]["role"] == "system":
                shown[0] = {"role": "system", "content": shown[0]["content"] + "\n\n" + howto}
            else:
                shown.insert(0, {"role": "system", "content": howto})
        prompt = tokenizer.apply_chat_template(shown, tokenize=False, add_generation_prompt=True)
        params = SamplingParams(n=1, temperature=0.0, max_new_tokens=self.max_tokens, stop_after_code=False)
        text = self.generator.complete_raw([prompt], params)[0][0]
        calls = []
        for i, block in enumerate(TOOL_CALL.findall(text) if tools else []):
            try:
                parsed = json.loads(block)
                name, arguments = str(parsed["name"]), json.dumps(parsed.get("arguments", {}))
            except (ValueError, KeyError, TypeError):
                name, arguments = "", block  # recorded as a malformed call
            calls.append(ToolCall(id=f"call-{i}", name=name, arguments=arguments))
        return Reply(text=TOOL_CALL.sub("", text).strip(), tool_calls=calls, finish_reason="stop")


def _plain(message: dict[str, Any]) -> dict[str, str]:
    """A message as a template without tool support can show it."""
    role = message["role"]
    content = message.get("content") or ""
    if role == "tool":
        return {"role": "user", "content": f"Tool result ({message.get('name', 'tool')}): {content}"}
    if message.get("tool_calls"):
        calls = "".join(
            f'<tool_call>{{"name": "{c["function"]["name"]}", "arguments": {c["function"]["arguments"]}}}</tool_call>'
            for c in message["tool_calls"]
        )
        content = f"{content}{calls}"
    return {"role": role if role in ("system", "user", "assistant") else "user", "content": content}


def _cause(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
