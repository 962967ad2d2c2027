"""The decode loop: same greedy tokens as model.generate, n samples per prompt, early stop at the code block and at
a loop."""

from dataclasses import replace

import torch

from autodidact.tools import loops
from autodidact.tools.generate import Generator, SamplingParams
from autodidact.tools.models import load_tokenizer, resolve_model


def test_greedy_matches_model_generate(warm_model):
    gen = Generator(str(warm_model), dtype=torch.float32)
    messages = ["Write a Python function `sum_list(xs)` that returns the sum.", "Reverse a string.", "Hi"]
    ours = [o[0] for o in gen.complete(messages, SamplingParams(max_new_tokens=40, stop_after_code=False))]
    tok = gen.tokenizer
    tok.padding_side = "left"
    batch = tok([gen.chat_prompt(m) for m in messages], return_tensors="pt", padding=True, add_special_tokens=False)
    out = gen.model.generate(**batch, max_new_tokens=40, do_sample=False, pad_token_id=tok.pad_token_id)
    theirs = [tok.decode(r[batch.input_ids.shape[1] :], skip_special_tokens=True) for r in out]
    assert ours == theirs


def test_samples_per_prompt_and_seed(warm_model):
    gen = Generator(str(warm_model), dtype=torch.float32, batch_size=4)
    params = SamplingParams(n=3, temperature=1.0, max_new_tokens=30, seed=5)
    a = gen.complete(["one", "two"], params)
    b = gen.complete(["one", "two"], params)
    assert [len(x) for x in a] == [3, 3]
    assert a == b


def test_stops_after_the_code_block(warm_model):
    gen = Generator(str(warm_model), dtype=torch.float32)
    prompt = "Write a Python function `count_items(xs)` that returns how many items the list `xs` has."
    ((reply,),) = gen.complete([prompt], SamplingParams(max_new_tokens=200))
    assert reply.startswith("```python") and reply.count("```") == 2 and reply.endswith("```")
    ((unstopped,),) = gen.complete([prompt], SamplingParams(max_new_tokens=200, stop_after_code=False))
    assert unstopped.startswith(reply)


def test_two_decoding_workers_give_the_answers_of_one(warm_model):
    # Each batch samples from its own seeded generator, so the worker count does not change what is sampled.
    messages = [f"Write a function number {i}." for i in range(10)]
    params = SamplingParams(n=2, temperature=1.0, max_new_tokens=20, seed=3)
    one = Generator(str(warm_model), dtype=torch.float32, batch_size=4, workers=1)
    two = Generator(str(warm_model), dtype=torch.float32, batch_size=4, workers=2)
    threads = torch.get_num_threads()
    done: list[int] = []
    assert one.complete(messages, params) == two.complete(messages, params, progress=done.append)
    assert sum(done) == 20 and len(done) == 5  # one call per batch of 4, from whichever thread decoded it
    assert one.generated_tokens == two.generated_tokens > 0
    assert torch.get_num_threads() == threads  # torch's threads are given back after the call


def test_an_answer_that_repeats_itself_is_stopped_and_is_a_prefix_of_the_unstopped_one(tiny_model):
    # The tiny model's random weights write one token again and again: without the stop it runs to its limit.
    gen = Generator(str(tiny_model), dtype=torch.float32)
    messages = ["Reverse a string.", "Hi"]
    free = SamplingParams(max_new_tokens=200, stop_after_code=False, stop_on_loop=False)
    unstopped = [o[0] for o in gen.complete(messages, free)]
    spent = gen.generated_tokens
    stopped = [o[0] for o in gen.complete(messages, replace(free, stop_on_loop=True))]
    assert all(len(gen.tokenizer(u).input_ids) == 200 for u in unstopped)
    assert all(u.startswith(s) and len(s) < len(u) for s, u in zip(stopped, unstopped, strict=True))
    assert gen.generated_tokens - spent <= 2 * loops.SPAN < spent


HUMANEVAL_LOOPS = [
    # Two answers of the default model's champions that ran to HumanEval's 384-token limit, and one that passed.
    "```python\ndef rolling_max(numbers):\n    prefixes = []\n    return max(" + "max(prefixes, " * 40,
    '```python\ndef fib4(n):\n    """\n' + "".join(f"    fib4({i}) -> {i * 37 % 1000}\n" for i in range(10, 60)),
]
PASSED = (
    "```python\ndef min_of_list(xs):\n    return min(x for x in xs if x not in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, "
    "12, 13, 14, 15, 16, 17, 18, 19, 20))\n```"
)


def test_loops_are_told_from_answers_that_only_look_alike():
    tokenizer = load_tokenizer(resolve_model(None))
    looping = loops.Looping(tokenizer)

    def first_stop(text: str) -> int | None:
        ids = tokenizer(text, add_special_tokens=False).input_ids
        return next((n for n in range(1, len(ids) + 1) if looping(ids[:n])), None)

    for text in HUMANEVAL_LOOPS:  # a repeated call, and a counting loop (every digit counts as one symbol)
        stop = first_stop(text)
        assert stop is not None and stop < len(tokenizer(text, add_special_tokens=False).input_ids) - loops.SPAN
    assert first_stop(PASSED) is None  # the numbers 1 to 20 repeat a shape, but over fewer than SPAN tokens
    words = "zero one two three four five six seven eight nine".split()
    table = ", ".join(f"'{w}': {i}" for i, w in enumerate(words))  # the same shape ten times, but not one block
    assert first_stop(f"```python\ndef sort_numbers(numbers):\n    value = {{{table}}}\n") is None
