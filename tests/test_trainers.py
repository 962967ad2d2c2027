"""Each trainer end to end on the tiny Llama built in the tests: the weights change, the loss is finite, the
logs land in the log directory, and GRPO's rewards are the verdicts of real sandbox runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from autodidact.sandbox import get_sandbox
from autodidact.tools.generate import Generator, SamplingParams
from autodidact.tools.tasks import get_family, verify_each
from autodidact.trainers import (
    DPOParams,
    GRPOParams,
    SFTParams,
    TrainingError,
    batch_args,
    choose_adapter,
    train_dpo,
    train_grpo,
    train_sft,
    verified_reward,
)
from autodidact.trainers.common import load_for_training

FAST = {"bf16": False, "batch_size": 4, "learning_rate": 1e-3, "warmup_steps": 1}


@pytest.fixture(scope="module")
def tasks():
    return get_family("python-functions").generate(split="train", difficulty=1, n=12, seed=3)


def chat(model: Path, text: str) -> str:
    return Generator(str(model)).chat_prompt(text)


def reference_rows(model: Path, tasks) -> list[dict[str, str]]:
    return [{"prompt": chat(model, t.prompt), "completion": f"```python\n{t.reference}\n```"} for t in tasks]


def changed(before: Path, after: Path) -> bool:
    a, b = load_file(str(before / "model.safetensors")), load_file(str(after / "model.safetensors"))
    assert a.keys() == b.keys()
    return any(not a[k].equal(b[k]) for k in a)


def test_sft_trains_on_completions_and_logs_each_step(tiny_model, tasks, tmp_path):
    rows = reference_rows(tiny_model, tasks)
    result = train_sft(
        base=str(tiny_model),
        rows=rows,
        output_dir=tmp_path / "sft",
        params=SFTParams(epochs=2, **FAST),
        log_dir=tmp_path / "logs",
        progress=False,
    )
    assert result.method == "sft" and result.adapter == "full" and result.steps == 6
    assert all(math.isfinite(x) for x in result.losses) and result.losses[-1] < result.losses[0]
    assert changed(tiny_model, tmp_path / "sft")
    logged = [json.loads(line) for line in (tmp_path / "logs" / "log_history.jsonl").read_text().splitlines()]
    assert [e["loss"] for e in logged if "loss" in e] == pytest.approx(result.losses)
    assert list((tmp_path / "logs").glob("events.out.tfevents.*")), "TensorBoard is installed: events expected"
    assert not list(tmp_path.glob(".sft-*")), "the temporary directory was left behind"


def test_dpo_prefers_the_chosen_answers(tiny_model, tasks, tmp_path):
    pairs = [
        {
            "prompt": chat(tiny_model, t.prompt),
            "chosen": f"```python\n{t.reference}\n```",
            "rejected": f"```python\ndef {t.entry_point}(*args):\n    return None\n```",
        }
        for t in tasks
    ]
    result = train_dpo(
        base=str(tiny_model),
        pairs=pairs,
        output_dir=tmp_path / "dpo",
        params=DPOParams(epochs=2, **FAST),
        progress=False,
    )
    assert result.method == "dpo" and all(math.isfinite(x) for x in result.losses)
    assert result.losses[0] == pytest.approx(math.log(2), abs=1e-3)  # policy == reference at the start
    assert result.losses[-1] < result.losses[0] and result.metrics["rewards/margins"][-1] > 0
    assert changed(tiny_model, tmp_path / "dpo")


class RecordingSandbox:
    """The real local sandbox, with every run's result kept: proof that a reward came from an execution."""

    def __init__(self) -> None:
        self.inner = get_sandbox("local")
        self.results: list = []
        self.concurrency = self.inner.concurrency

    def run(self, *args, **kwargs):
        result = self.inner.run(*args, **kwargs)
        self.results.append(result)
        return result


def test_grpo_rewards_come_from_real_sandbox_runs(warm_model, tmp_path):
    family = get_family("python-functions")
    tasks = family.generate(split="train", difficulty=1, n=8, seed=11)
    sandbox = RecordingSandbox()

    reward = verified_reward(lambda pairs: verify_each(pairs, sandbox))
    prompts = [{"prompt": chat(warm_model, t.prompt), "task": json.dumps(t.to_dict())} for t in tasks]
    try:
        result = train_grpo(
            base=str(warm_model),
            prompts=prompts,
            reward=reward,
            output_dir=tmp_path / "grpo",
            params=GRPOParams(
                epochs=1, num_generations=4, max_completion_length=48, temperature=1.0, **{**FAST, "batch_size": 8}
            ),
            progress=False,
        )
    finally:
        sandbox.inner.close()
    verdicts = reward.verdicts
    assert len(verdicts) == len(prompts) * 4, "one sandbox verdict per sampled completion"
    assert len(sandbox.results) == len(verdicts), "every verdict is a sandbox execution"
    assert all(r.duration_s > 0 for r in sandbox.results)
    passed = sum(v.passed for v in verdicts)
    assert 0 < passed < len(verdicts), "the warm model solves some level-1 tasks, not all"
    # TRL's logged mean reward is the mean of what the sandbox decided (1 per pass, at most 0 otherwise).
    assert result.steps == 4 and all(math.isfinite(x) for x in result.losses)
    assert sum(result.metrics["reward"]) * 8 <= passed + 1e-4
    assert sum(result.metrics["reward"]) * 8 >= passed - 0.2 * (len(verdicts) - passed) - 1e-4
    assert changed(warm_model, tmp_path / "grpo")


def test_lora_merges_into_the_weights_or_stays_an_adapter(tiny_model, tasks, tmp_path):
    rows = reference_rows(tiny_model, tasks)
    merged = train_sft(
        base=str(tiny_model),
        rows=rows,
        output_dir=tmp_path / "merged",
        params=SFTParams(epochs=1, adapter="lora", **FAST),
        progress=False,
    )
    assert merged.adapter == "lora" and changed(tiny_model, tmp_path / "merged")
    assert not (tmp_path / "merged" / "adapter_config.json").exists()
    train_sft(
        base=str(tiny_model),
        rows=rows,
        output_dir=tmp_path / "adapter",
        params=SFTParams(epochs=1, adapter="lora", lora_output="adapter", **FAST),
        progress=False,
    )
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    assert not (tmp_path / "adapter" / "model.safetensors").exists()
    # The adapter loads onto its base for generation and gives the merged model's greedy output.
    prompt = [tasks[0].prompt]
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=12)
    from_adapter = Generator(str(tmp_path / "adapter"), dtype=torch.float32).complete(prompt, greedy)
    from_merged = Generator(str(tmp_path / "merged"), dtype=torch.float32).complete(prompt, greedy)
    assert from_adapter == from_merged


def test_full_or_lora_is_chosen_by_size_and_can_be_overridden():
    assert choose_adapter(135_000_000, "auto")[0] == "lora"  # a pretrained model forgets less with LoRA
    assert choose_adapter(1_700_000_000, "auto")[0] == "lora"
    assert choose_adapter(1_000_000, "auto")[0] == "full"  # a small model from `autodidact seed`
    assert choose_adapter(1_700_000_000, "full")[0] == "full"


def test_lora_trains_at_a_multiple_of_the_full_rate_unless_given_its_own():
    from autodidact.trainers.common import LORA_LR_SCALE, learning_rate

    params = SFTParams(learning_rate=5e-5)
    assert learning_rate(params, "full") == 5e-5
    assert learning_rate(params, "lora") == pytest.approx(5e-5 * LORA_LR_SCALE)
    assert learning_rate(SFTParams(learning_rate=5e-5, lora_learning_rate=1e-4), "lora") == 1e-4


def test_no_data_is_a_training_error(tiny_model, tmp_path):
    with pytest.raises(TrainingError, match="no rows"):
        train_sft(base=str(tiny_model), rows=[], output_dir=tmp_path / "x", params=SFTParams(), progress=False)
    assert not (tmp_path / "x").exists()


def test_a_diverging_loss_stops_training_and_saves_nothing(tiny_model, tasks, tmp_path):
    rows = [{"prompt": chat(tiny_model, t.prompt), "completion": t.reference} for t in tasks]
    params = SFTParams(epochs=2, **{**FAST, "learning_rate": 1e30})
    with pytest.raises(TrainingError, match="non-finite"):
        train_sft(base=str(tiny_model), rows=rows, output_dir=tmp_path / "nan", params=params, progress=False)
    assert not (tmp_path / "nan").exists()


def test_each_trainer_is_an_agent_tool_with_a_typed_schema(tiny_model, tasks, tmp_path):
    from pydantic import ValidationError

    from autodidact.tools.train import trainer_tools

    tools = {t.name: t for t in trainer_tools()}
    assert set(tools) == {"train_sft", "train_dpo", "train_grpo"}
    schema = tools["train_dpo"].args_schema.model_json_schema()
    assert schema["properties"]["beta"]["type"] == "number" and schema["properties"]["beta"]["description"]
    assert set(schema["required"]) == {"base", "data_file", "output_dir"}
    assert tools["train_grpo"].args_schema.model_json_schema()["properties"]["sandbox"]["default"] == "local"
    data = tmp_path / "rows.jsonl"
    rows = reference_rows(tiny_model, tasks)
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = {"base": str(tiny_model), "data_file": str(data), "output_dir": str(tmp_path / "out"), "bf16": False}
    with pytest.raises(ValidationError):
        tools["train_sft"].invoke({**args, "adapter": "qlora"})
    result = tools["train_sft"].invoke({**args, "epochs": 1, "batch_size": 6, "learning_rate": 1e-3})
    assert result["method"] == "sft" and result["steps"] == 2 and changed(tiny_model, tmp_path / "out")


def test_a_time_limit_stops_training_after_the_step_that_passes_it(tiny_model, tasks, tmp_path):
    rows = reference_rows(tiny_model, tasks)
    result = train_sft(
        base=str(tiny_model),
        rows=rows,
        output_dir=tmp_path / "limited",
        params=SFTParams(epochs=4, max_seconds=1e-6, **{**FAST, "warmup_steps": 0}),
        progress=False,
    )
    assert result.steps == 1 and changed(tiny_model, tmp_path / "limited")


def test_a_time_limit_begins_no_step_that_would_end_past_it(monkeypatch):
    """Steps of 3 s under a 10 s limit: after the third (9 s) a fourth would end at 12 s, so training stops there;
    stopping only once past the limit, it took the fourth and ended 2 s over (a last round's DPO steps of 14 s
    took 3.4 s past its seconds and the run past its wall budget)."""
    from types import SimpleNamespace

    from autodidact.trainers import common

    clock = [100.0]
    monkeypatch.setattr(common.time, "monotonic", lambda: clock[0])
    callbacks, _ = common._callbacks(None, None, False, max_seconds=10.0)
    control = SimpleNamespace(should_training_stop=False)
    steps = 0
    while not control.should_training_stop:
        clock[0] += 3.0
        steps += 1
        for callback in callbacks:
            callback.on_step_end(None, None, control)
    assert steps == 3 and clock[0] - 100.0 <= 10.0


@pytest.mark.parametrize(
    "step_s, chosen",
    [
        ({1: 0.20, 2: 0.11}, 2),  # an idle machine: a 1M-parameter model's steps split over two cores
        ({1: 0.20, 2: 0.50}, 1),  # beside a busy process, two threads wait on each other
    ],
)
def test_a_small_models_training_keeps_the_thread_count_its_timed_steps_found_faster(step_s, chosen):
    """The probe runs one untimed step on one thread, three timed on one and three on every core, then the rest on
    the faster count. Steps here last what `step_s` says for the thread count they run on."""
    from types import SimpleNamespace

    from autodidact.trainers import common

    clock = [0.0]
    probe = common.thread_probe(2, clock=lambda: clock[0])
    state = SimpleNamespace(global_step=0)
    ran_on = []
    before = torch.get_num_threads()
    try:
        for _ in range(10):
            probe.on_step_begin(None, state, None)
            ran_on.append(torch.get_num_threads())
            clock[0] += step_s[torch.get_num_threads()] + (1.0 if state.global_step == 0 else 0.0)  # a slow first
            state.global_step += 1
            probe.on_step_end(None, state, None)
    finally:
        torch.set_num_threads(before)
    assert ran_on == [1, 1, 1, 1, 2, 2, 2] + [chosen] * 3
    assert probe.chosen == chosen
    assert probe.step_s == {n: [pytest.approx(t)] * common.PROBE_STEPS for n, t in step_s.items()}


def test_equal_or_missing_timings_keep_the_fewer_threads():
    from autodidact.trainers.common import faster_thread_count

    assert faster_thread_count({1: [0.2, 0.3], 2: [0.2]}) == 1
    assert faster_thread_count({1: [], 2: []}) == 1
    assert faster_thread_count({1: [0.3], 2: [0.4, 0.1]}) == 2


def test_training_a_small_model_records_its_threads_and_gives_the_cores_back(tiny_model, tasks, tmp_path, monkeypatch):
    from autodidact.trainers import common

    monkeypatch.setattr(common, "cpu_cores", lambda: 2)  # the probe runs however many cores this machine has
    monkeypatch.setattr(common, "faster_thread_count", lambda step_s: 1)  # one thread, so that giving back shows
    before = torch.get_num_threads()
    try:
        result = train_sft(
            base=str(tiny_model),
            rows=reference_rows(tiny_model, tasks) * 3,
            output_dir=tmp_path / "probed",
            params=SFTParams(epochs=1, **FAST),
            progress=False,
        )
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert result.steps == 9
    assert sorted(result.threads["step_s"]) == ["1", "2"]
    assert all(len(t) == common.PROBE_STEPS and min(t) > 0 for t in result.threads["step_s"].values())
    assert result.threads["chosen"] == 1
    assert after == 2, "decoding after training gets the cores back"


def test_a_batch_in_micro_batches_is_one_step_of_the_whole_batch(tiny_model, tasks, tmp_path):
    assert batch_args(8, 2) == {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 4}
    assert batch_args(6, 4) == {"per_device_train_batch_size": 3, "gradient_accumulation_steps": 2}
    assert batch_args(4, 16) == {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 1}
    with pytest.raises(TrainingError, match="at least 1"):
        batch_args(8, 0)
    rows = reference_rows(tiny_model, tasks)[:8]
    losses = {}
    for micro in (8, 2):
        params = SFTParams(epochs=1, **{**FAST, "batch_size": 8, "warmup_steps": 0}, micro_batch_size=micro)
        result = train_sft(base=str(tiny_model), rows=rows, output_dir=tmp_path / f"m{micro}", params=params)
        assert result.steps == 1
        losses[micro] = result.losses[0]
    assert losses[2] == pytest.approx(losses[8], rel=1e-3)


def test_grpo_groups_must_fill_the_batch_its_passes_make():
    with pytest.raises(TrainingError, match="multiple of num_generations 4"):
        train_grpo(
            base="unused",
            prompts=[{"prompt": "p", "task": "{}"}],
            reward=lambda **kw: [],
            output_dir="unused",
            params=GRPOParams(batch_size=8, micro_batch_size=3),
        )


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_each_pass_is_padded_to_a_multiple_of_the_setting(method, tiny_model, tasks, tmp_path, monkeypatch):
    """Few distinct shapes: on a CPU each new shape keeps one more compiled kernel (and its memory) alive."""
    import autodidact.trainers.dpo as dpo_module
    import autodidact.trainers.sft as sft_module

    module = sft_module if method == "sft" else dpo_module
    lengths: dict[int, list[int]] = {16: [], 0: []}
    for multiple, seen in lengths.items():

        def spying(base, params, seen=seen):
            loaded = load_for_training(base, params)
            loaded[0].register_forward_pre_hook(
                lambda _m, args, kwargs: seen.append(kwargs["input_ids"].shape[1]), with_kwargs=True
            )
            return loaded

        monkeypatch.setattr(module, "load_for_training", spying)
        params = {**FAST, "max_steps": 2, "pad_to_multiple_of": multiple}
        if method == "sft":
            train_sft(
                base=str(tiny_model),
                rows=reference_rows(tiny_model, tasks),
                output_dir=tmp_path / f"sft{multiple}",
                params=SFTParams(**params),
                progress=False,
            )
        else:
            pairs = [
                {"prompt": chat(tiny_model, t.prompt), "chosen": t.reference, "rejected": "return None"} for t in tasks
            ]
            train_dpo(
                base=str(tiny_model), pairs=pairs, output_dir=tmp_path / f"dpo{multiple}", params=DPOParams(**params)
            )
    assert lengths[16] and all(n % 16 == 0 for n in lengths[16])
    assert any(n % 16 for n in lengths[0]), "without the setting, passes are as long as their longest row"


def test_a_blend_is_the_weighted_mean_of_two_checkpoints_each_tied_weight_moved_once(tiny_model, tmp_path):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from autodidact.trainers.blend import blend

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=True,
    )  # fmt: skip
    models = []
    for seed, name in ((0, "parent"), (1, "candidate")):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
        model.save_pretrained(tmp_path / name)
        tokenizer.save_pretrained(tmp_path / name)
        models.append(model)
    parent, candidate = (dict(m.named_parameters()) for m in models)
    seconds = blend(str(tmp_path / "parent"), str(tmp_path / "candidate"), tmp_path / "blend", 0.25)
    assert seconds > 0
    blended = LlamaForCausalLM.from_pretrained(tmp_path / "blend")
    for name, weight in blended.named_parameters():
        assert torch.allclose(weight, parent[name] + 0.25 * (candidate[name] - parent[name]), atol=1e-6), name
    assert blended.lm_head.weight.data_ptr() == blended.model.embed_tokens.weight.data_ptr()
    assert AutoTokenizer.from_pretrained(tmp_path / "blend").chat_template == tokenizer.chat_template
    assert not list(tmp_path.glob(".blend-*"))  # written beside and renamed into place
    with pytest.raises(ValueError, match="within"):
        blend(str(tmp_path / "parent"), str(tmp_path / "candidate"), tmp_path / "other", 1.5)


def test_on_a_cpu_the_fused_lm_head_scores_only_labelled_positions_with_the_same_loss_and_gradients(
    tiny_model, tasks, tmp_path, monkeypatch
):
    from transformers import AutoModelForCausalLM
    from trl.trainer import utils

    from autodidact.trainers.lm_head import labelled_positions_only

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float32)
    utils.add_fused_lm_head(model, outputs=("log_probs",))
    ids = torch.randint(0, model.config.vocab_size, (2, 12), generator=torch.Generator().manual_seed(0))
    labels = ids.clone()
    labels[:, :8] = -100  # the prompt
    labels[1, 10:] = -100  # padding
    scored: list[tuple[int, bool]] = []
    kernel = utils._ChunkedLogProbFunction

    class Spy:
        @staticmethod
        def apply(hidden, *rest):
            scored.append((hidden.shape[0], utils._use_triton(torch.device("cpu"))))
            return kernel.apply(hidden, *rest)

    monkeypatch.setattr(utils, "_ChunkedLogProbFunction", Spy)

    def loss_and_grads() -> tuple[float, list[torch.Tensor]]:
        model.zero_grad()
        loss = model(input_ids=ids, labels=labels, fused_lm_head=True).loss
        loss.backward()
        return loss.item(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    every = loss_and_grads()
    with labelled_positions_only() as applied:
        labelled = loss_and_grads()
    assert applied and scored == [(2 * 11, False), (int((labels[:, 1:] != -100).sum()), True)]
    assert labelled[0] == pytest.approx(every[0], rel=1e-5) and len(labelled[1]) == len(every[1]) > 0
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(every[1], labelled[1], strict=True))
    assert not utils._use_triton(torch.device("cpu"))  # TRL's own choice again after the block

    # Every trainer trains inside the block.
    scored.clear()
    params = SFTParams(epochs=1, **{**FAST, "batch_size": 4, "warmup_steps": 0})
    train_sft(
        base=str(tiny_model), rows=reference_rows(tiny_model, tasks)[:4], output_dir=tmp_path / "m", params=params
    )
    assert scored and all(inside for _, inside in scored)
