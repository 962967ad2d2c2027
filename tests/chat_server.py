"""A local HTTP server that speaks the OpenAI chat-completions protocol with SCRIPTED replies: no model is behind
it. Tests use it to drive the real `openai` client (the planner, the critic, the openai backend) through tool
calls, malformed calls, refusals, timeouts and dropped connections, offline.

A step of the script is a dict:
- `tool_calls`: [(name, arguments)], arguments a dict (sent as JSON) or a string (sent as written, e.g. broken JSON)
- `content`: the reply's text
- `sleep`: seconds to wait before answering (longer than the client's timeout: a timeout)
- `drop`: close the connection without an answer (a server that went away)
A callable step is called with the request body and returns a step. Requests without tools (the critic's) are
answered by `plain`, requests with tools by the next step of `script` (then `after`). Its model list names `owner`
as the models' owner ("vllm" makes it pass for a vLLM server).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Step = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]


class ScriptedChatServer:
    def __init__(
        self,
        script: list[Step],
        *,
        after: Step | None = None,
        plain: Step | None = None,
        owner: str = "scripted",
    ) -> None:
        self.script = list(script)
        self.after = after or {"content": "I have nothing more to add."}
        self.plain = plain or {"content": "OK."}
        self.requests: list[dict[str, Any]] = []
        self.adapters: list[dict[str, Any]] = []
        self.unloaded: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                if self.path.endswith("/models"):  # vLLM's model cards say owned_by "vllm"
                    self._send(200, {"object": "list", "data": [{"id": "m", "object": "model", "owned_by": owner}]})
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path.endswith("/load_lora_adapter"):
                    outer.adapters.append(body)
                    self._send(200, {"status": "ok"})
                    return
                if self.path.endswith("/unload_lora_adapter"):
                    outer.unloaded.append(body)
                    self._send(200, {"status": "ok"})
                    return
                with outer._lock:
                    outer.requests.append(body)
                    step = (outer.script.pop(0) if outer.script else outer.after) if body.get("tools") else outer.plain
                step = step(body) if callable(step) else step
                if step.get("sleep"):
                    outer._stop.wait(step["sleep"])
                if step.get("drop"):
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self._send(200, completion(body, step))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (a timeout test)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> ScriptedChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()


def completion(body: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion object for one scripted step (n choices alike, or `contents`, one per choice)."""
    calls = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
        }
        for i, (name, args) in enumerate(step.get("tool_calls", []))
    ]
    contents = step.get("contents") or [step.get("content", "")] * int(body.get("n") or 1)
    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": text if not calls else None, "tool_calls": calls or None},
            "finish_reason": "tool_calls" if calls else "stop",
        }
        for i, text in enumerate(contents)
    ]
    tokens = sum(len(str(c).split()) for c in contents)
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", ""),
        "choices": choices,
        "usage": {"prompt_tokens": 1, "completion_tokens": tokens, "total_tokens": tokens + 1},
    }
