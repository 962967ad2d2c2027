"""The checkpoint store: lineage records with data hashes, model cards, the champion pointer, hygiene."""

from __future__ import annotations

import hashlib
import json

from autodidact.agent.rundir import RunDir


def make_checkpoint(root, cid, data_rows=3):
    folder = root / cid
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "config.json").write_text("{}")
    data = root / "data" / f"{cid.replace('/', '-')}.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("".join(json.dumps({"i": i}) + "\n" for i in range(data_rows)))
    return data


def register(store, cid, parent, data, round_no=1):
    return store.register(
        cid,
        parent=parent,
        round_no=round_no,
        goal="g",
        method="dpo",
        adapter="full",
        params={"beta": 0.1},
        data=[data],
        metrics={"steps": 4, "losses": [0.69, 0.5], "duration_s": 3.0},
    )


def test_a_record_names_its_parent_method_and_data_with_hashes(tmp_path):
    store = RunDir(tmp_path).store()
    data = make_checkpoint(tmp_path, "models/round-1")
    record = register(store, "models/round-1", "/models/base", data)
    assert record["parent"] == "/models/base" and record["method"] == "dpo"
    assert record["data"] == [
        {"path": "data/models-round-1.jsonl", "sha256": hashlib.sha256(data.read_bytes()).hexdigest(), "rows": 3}
    ]
    assert store.record("models/round-1") == record
    card = (tmp_path / "models/round-1/README.md").read_text()
    assert card.startswith("---\nbase_model: /models/base\nlibrary_name: transformers\n")
    assert "- dpo" in card and "| beta | 0.1 |" in card


def test_lineage_follows_parents_back_to_the_starting_model(tmp_path):
    store = RunDir(tmp_path).store()
    register(store, "models/round-1", "/models/base", make_checkpoint(tmp_path, "models/round-1"))
    register(store, "models/round-3", "models/round-1", make_checkpoint(tmp_path, "models/round-3"), round_no=3)
    chain = store.lineage("models/round-3")
    assert [r["id"] for r in chain] == ["models/round-3", "models/round-1"]
    assert chain[0]["ancestry"] == ["models/round-1", "/models/base"]


def test_a_rejected_candidate_loses_its_weights_but_keeps_its_record(tmp_path):
    store = RunDir(tmp_path).store()
    register(store, "models/round-1", "/models/base", make_checkpoint(tmp_path, "models/round-1"))
    decision = {"verdict": "rollback", "reason": "not better", "numbers": {}}
    store.decide("models/round-1", decision, keep_weights=False)
    assert not store.has_weights("models/round-1")
    assert (tmp_path / "models/round-1/config.json").exists()
    record = store.record("models/round-1")
    assert record["decision"] == decision and record["weights_deleted"]
    assert "**rollback**: not better (weights deleted" in (tmp_path / "models/round-1/README.md").read_text()


def test_kept_candidates_and_promoted_ones_keep_their_weights(tmp_path):
    store = RunDir(tmp_path).store()
    register(store, "models/round-1", "/models/base", make_checkpoint(tmp_path, "models/round-1"))
    register(store, "models/round-2", "models/round-1", make_checkpoint(tmp_path, "models/round-2"))
    store.decide("models/round-1", {"verdict": "rollback", "reason": "r"}, keep_weights=True)
    promote = {
        "verdict": "promote",
        "reason": "p",
        "numbers": {"n": 10, "champion_pass1": 2, "candidate_pass1": 7, "p_value": 0.03},
    }
    store.decide("models/round-2", promote, keep_weights=False)
    assert store.has_weights("models/round-1") and store.has_weights("models/round-2")
    assert "Held-out pass@1 (greedy): 7/10" in (tmp_path / "models/round-2/README.md").read_text()


def test_the_champion_pointer_moves_atomically_and_remembers_its_history(tmp_path):
    store = RunDir(tmp_path).store()
    assert store.champion() is None
    store.set_champion("/models/base", reason="start", round_no=0)
    register(store, "models/round-1", "/models/base", make_checkpoint(tmp_path, "models/round-1"))
    store.set_champion("models/round-1", reason="better", round_no=1)
    store.set_champion("models/round-1", reason="better", round_no=1)  # a resumed node repeating itself
    assert store.champion() == "models/round-1"
    assert [e["champion"] for e in store.champions()] == ["/models/base", "models/round-1"]
    assert store.restorable_ancestors("models/round-1") == ["/models/base"]
    assert store.restorable_ancestors("/models/base") == []
    assert not list(tmp_path.glob(".champion*")), "no temporary files left"
