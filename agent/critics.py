"""Critics: who writes a critique of each failed attempt before refine asks for a repair.

A `Critic` registers in the `autodidact.critics` entry point group, the built-ins too: `none` (no critique),
`self` (the model being trained, as the backend serves it) and `llm` (a chat model on an OpenAI-compatible
server: --critic-model on --critic-base-url, else the planner's). Its `critique(ctx, state, shown)` returns a
critique (or None) per failed attempt, in order, and the error that stopped it, if one did: after a failure
(a timeout, a server that is down) the remaining attempts are repaired without critiques.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..plugins import Registry
from ..prompts import render
from ..tools.chat import ChatError
from ..tools.generate import SamplingParams
from ..tools.inference import BACKENDS

if TYPE_CHECKING:
    from .context import RunContext
    from .state import RunState

CRITIQUE_TOKENS = 160


@dataclass(frozen=True)
class Critic:
    name: str
    description: str
    critique: Callable[..., tuple[list[str | None], str | None]] | None = None
    """(ctx, state, shown) -> (a critique or None per attempt, the error that stopped it); None: no critic."""
    check: Callable[[Any], str | None] = lambda config: None
    """Why the run's settings cannot use this critic (one line with the fix), or None."""


def critique(ctx: RunContext, state: RunState, shown: list[dict[str, str]]) -> tuple[list[str | None], str | None]:
    """A critique of each failed attempt from the critic (`--critic`), and the error that stopped it, if one did:
    after a failure (a timeout, a server that is down) the remaining attempts are repaired without critiques."""
    cfg = ctx.config
    messages = [render("critique", **fields) for fields in shown]
    if cfg.agent.critic == "self" and not BACKENDS[cfg.inference.backend].serves:  # the champion here: one batch
        params = SamplingParams(n=1, temperature=0.0, max_new_tokens=CRITIQUE_TOKENS, stop_after_code=False)
        replies = ctx.generator(state["champion"]).complete(messages, params)
        return [r.strip() or None for (r,) in replies], None
    said: list[str | None] = []
    try:
        chat = ctx.chat_model(cfg.agent.critic, cfg.agent.critic_model, cfg.agent.critic_base_url, state["champion"])
        for message in messages:
            said.append(chat.chat([{"role": "user", "content": message}]).text.strip() or None)
    except ChatError as exc:
        ctx.log(f"round {state['round']}: refine: the critic failed ({exc}); repairs go on without critiques")
        return said, f"{exc.kind}: {exc}"
    return said, None


def _check_llm(config: Any) -> str | None:
    if not (config.agent.critic_model and config.agent.critic_base_url):
        return "--critic llm needs --critic-model and --critic-base-url (or the planner's)"
    return None


NONE = Critic("none", "no critique: the repair prompt shows the attempt and the sandbox's feedback")
SELF = Critic("self", "the model being trained critiques its own failed attempts", critique)
LLM = Critic("llm", "a chat model on an OpenAI-compatible server critiques the failed attempts", critique, _check_llm)

CRITICS: Mapping[str, Critic] = Registry("critics")
"""Every critic, built-in or plugin, by name (entry point group `autodidact.critics`)."""
