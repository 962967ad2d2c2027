"""The decode loop: same greedy tokens as model.generate, n samples per prompt, early stop at the code block."""

import torch

from autodidact.tools.generate import Generator, SamplingParams


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
