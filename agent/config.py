"""Run configuration: every knob of a run, with its default and what it means (stored in the run's run.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(kw_only=True)
class RunConfig:
    goal: str = field(metadata={"description": "What the user wants the model to get better at."})
    model: str = field(
        default="SmolLM2-135M-Instruct",
        metadata={"description": "Starting model: the bundled default, a Hugging Face id, or a local directory."},
    )
    tasks: list[str] = field(
        default_factory=lambda: ["python-functions"],
        metadata={"description": "Task families to practise on."},
    )
    task_file: str | None = field(
        default=None, metadata={"description": "The user's tasks, for the jsonl task family (a JSONL file)."}
    )
    task_choice: dict[str, Any] | None = field(
        default=None,
        metadata={"description": "How the goal chose the task families (absent when --tasks named them)."},
    )
    levels: list[int] | None = field(
        default=None,
        metadata={"description": "Difficulty levels to practise and evaluate on (None: every level of the family)."},
    )
    rounds: int = field(default=2, metadata={"description": "Most improvement rounds to run."})
    seed: int = field(default=0, metadata={"description": "Seed for task generation and sampling."})
    heldout_tasks: int = field(default=100, metadata={"description": "Size of the fixed held-out evaluation set."})
    tasks_per_round: int = field(default=160, metadata={"description": "Practice tasks generated per round."})
    samples_per_task: int = field(default=4, metadata={"description": "Attempts sampled per practice task (k)."})
    temperature: float = field(default=0.8, metadata={"description": "Sampling temperature for attempts."})
    max_new_tokens: int = field(default=256, metadata={"description": "Longest completion, in tokens."})
    batch_size: int = field(default=32, metadata={"description": "Sequences decoded together."})
    max_repairs: int = field(default=24, metadata={"description": "Failed tasks the model tries to repair per round."})
    max_rows_per_task: int = field(
        default=2,
        metadata={"description": "Most training rows kept per task (balances easy and hard tasks)."},
    )
    accumulate: bool = field(
        default=True, metadata={"description": "Also train on the verified data of earlier rounds."}
    )
    guard_tasks: int = field(
        default=100,
        metadata={
            "description": "Guard-set candidates; the tasks among them the starting model solves form the guard."
        },
    )
    guard_tolerance: float = field(
        default=0.1,
        metadata={"description": "Gate: most guard-set pass rate a candidate may lose against the champion."},
    )
    decontamination_threshold: float = field(
        default=0.9,
        metadata={
            "description": "Select: prompt 5-gram Jaccard similarity to a held-out or guard task that drops a row."
        },
    )
    min_verified: int = field(default=4, metadata={"description": "Gate: verified attempts needed to go on."})
    min_tasks_solved: int = field(
        default=2, metadata={"description": "Gate: practice tasks with at least one verified attempt needed to go on."}
    )
    max_sandbox_error_rate: float = field(
        default=0.2,
        metadata={"description": "Gate: share of runs the sandbox itself failed above which the run ends."},
    )
    max_duplicate_share: float = field(
        default=0.95,
        metadata={
            "description": "Gate: share of verified answers that were (near-)duplicates above which the data is too narrow."
        },
    )
    max_retries: int = field(
        default=1,
        metadata={
            "description": "Gate: retries of a stage per round (acquire: twice the samples; train: half the rate)."
        },
    )
    patience: int = field(
        default=3, metadata={"description": "Stop after this many rounds in a row without a promotion."}
    )
    budget: dict[str, float] = field(
        default_factory=dict,
        metadata={"description": "Limits per run: wall_s, sandbox_s, tokens, train_steps (absent: unlimited)."},
    )
    approve: str | None = field(
        default=None, metadata={"description": "promote: pause for a person's approval before each promotion."}
    )
    label_filter: str = field(
        default="verified",
        metadata={
            "description": "Which sampled answers become training data: verified (the sandbox's ground truth) or "
            "majority (the answer most of a task's samples agree on, by majority_margin votes; no ground truth)."
        },
    )
    majority_margin: int = field(
        default=2,
        metadata={"description": "Majority filter: votes the top answer must lead the runner-up by."},
    )
    frontier_accuracy: float = field(
        default=0.9,
        metadata={
            "description": "Frontier curriculum: accuracy at which a level counts as mastered and practice moves on."
        },
    )
    replay_share: float = field(
        default=0.25,
        metadata={"description": "Frontier curriculum: share of a round's tasks drawn from the mastered levels."},
    )
    frontier_probe: int = field(
        default=50,
        metadata={
            "description": "Frontier curriculum: fresh practice tasks per level the plan measures the champion on."
        },
    )
    min_rows: int = field(default=8, metadata={"description": "Gate: selected rows needed to train with SFT."})
    min_pairs: int = field(default=8, metadata={"description": "Gate: preference pairs needed to train with DPO."})
    min_grpo_tasks: int = field(
        default=4, metadata={"description": "Gate: tasks with mixed outcomes needed to train with GRPO."}
    )
    max_grpo_prompts: int = field(default=32, metadata={"description": "Most prompts in a GRPO round."})
    alpha: float = field(default=0.05, metadata={"description": "Gate: one-sided p-value needed to promote."})
    trainer: str = field(
        default="auto",
        metadata={"description": "Training method: sft, dpo, grpo, or auto (chosen per round from the data)."},
    )
    adapter: str = field(
        default="auto",
        metadata={"description": "full fine-tuning, lora, or auto (LoRA for models above 400M parameters)."},
    )
    lora_output: str = field(
        default="merge",
        metadata={"description": "LoRA candidates: merge into the weights (transformers) or keep the adapter."},
    )
    train_params: dict[str, dict[str, Any]] = field(
        default_factory=dict,
        metadata={"description": 'Per-method hyper-parameter overrides, e.g. {"dpo": {"beta": 0.2}}.'},
    )
    epochs: float = field(default=2.0, metadata={"description": "SFT and DPO passes over the selected data."})
    learning_rate: float = field(default=5e-5, metadata={"description": "SFT peak learning rate."})
    max_steps_per_round: int = field(
        default=36,
        metadata={"description": "Most optimizer steps per training round: fewer epochs when there is more data."},
    )
    train_batch_size: int = field(default=8, metadata={"description": "Rows (GRPO: completions) per optimizer step."})
    bf16: bool = field(default=True, metadata={"description": "bf16 autocast in training."})
    probe_prompts: int = field(
        default=16, metadata={"description": "Gate: practice prompts sampled after training to detect collapse."}
    )
    min_length_ratio: float = field(
        default=0.3, metadata={"description": "Gate: candidate/champion mean completion length below this is collapse."}
    )
    min_diversity_ratio: float = field(
        default=0.5,
        metadata={"description": "Gate: candidate/champion share of distinct completions below this is collapse."},
    )
    plugins: list[str] = field(
        default_factory=list,
        metadata={"description": "Plugin module files loaded for this run (--plugin), loaded again on resume."},
    )
    sandbox: str = field(default="local", metadata={"description": "Sandbox backend for running attempts."})
    planner: str = field(
        default="curriculum",
        metadata={
            "description": "Who plans each round: curriculum (offline rules), llm (a chat model on an "
            "OpenAI-compatible server, calling the planner's tools), or self (the model being trained)."
        },
    )
    planner_model: str | None = field(
        default=None, metadata={"description": "LLM planner: the model name the server serves."}
    )
    planner_base_url: str | None = field(
        default=None, metadata={"description": "LLM planner: the server's OpenAI-compatible URL (.../v1)."}
    )
    planner_timeout_s: float = field(
        default=60.0,
        metadata={"description": "LLM planner and critic: seconds to wait for a reply before falling back."},
    )
    planner_turns: int = field(
        default=6,
        metadata={"description": "LLM planner: most replies per round before a plan; then the curriculum plans."},
    )
    max_written_tasks: int = field(
        default=16, metadata={"description": "LLM planner: most tasks it may write (write_task) per round."}
    )
    critic: str = field(
        default="none",
        metadata={
            "description": "Refine: who critiques a failed attempt before the repair: none, self (the model being "
            "trained) or llm (the chat model of --critic-model / --critic-base-url, else the planner's)."
        },
    )
    critic_model: str | None = field(default=None, metadata={"description": "Critic: the served model name."})
    critic_base_url: str | None = field(
        default=None, metadata={"description": "Critic: the OpenAI-compatible URL (default: the planner's)."}
    )
    backend: str = field(
        default="transformers",
        metadata={
            "description": "Inference backend for attempts and evaluation: transformers (this process), vllm (in "
            "this process, GPU; candidates as LoRA requests), or openai (an OpenAI-compatible server such as "
            "`vllm serve --enable-lora`; candidates are loaded into it as LoRA adapters)."
        },
    )
    backend_url: str | None = field(
        default=None, metadata={"description": "openai backend: the server's URL (.../v1)."}
    )
    backend_model: str | None = field(
        default=None,
        metadata={"description": "openai backend: the name the server serves the starting model under."},
    )
    keep_candidates: bool = field(
        default=False,
        metadata={"description": "Keep rejected candidates' weights (the record stays regardless)."},
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(sorted(unknown))}")
        return cls(**data)
