"""Generation throughput: our decode loop (drops finished rows, stops at the closed code block) against
`model.generate` on the same prompts, in the same process.

    python bench/generation.py [--model SmolLM2-135M-Instruct] [--prompts 32] [--max-new-tokens 256]

Prints wall time, generated tokens and tokens/s for both, the ratio, and whether greedy outputs agree (they must,
up to the point where the loop stops early).
"""

from __future__ import annotations

import argparse
import time

import torch

from autodidact.tools.codeblock import truncate_after_code
from autodidact.tools.generate import Generator, SamplingParams
from autodidact.tools.models import resolve_model
from autodidact.tools.tasks import get_family


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = Generator(resolve_model(args.model), batch_size=args.prompts)
    tok = gen.tokenizer
    tasks = get_family("python-functions").heldout(n=args.prompts, seed=0)
    messages = [t.prompt for t in tasks]

    start = time.perf_counter()
    ours = [o[0] for o in gen.complete(messages, SamplingParams(max_new_tokens=args.max_new_tokens))]
    ours_s = time.perf_counter() - start
    ours_tokens = sum(len(tok(o, add_special_tokens=False).input_ids) for o in ours)

    tok.padding_side = "left"
    batch = tok([gen.chat_prompt(m) for m in messages], return_tensors="pt", padding=True, add_special_tokens=False)
    start = time.perf_counter()
    with torch.inference_mode():
        out = gen.model.generate(
            **batch, max_new_tokens=args.max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id
        )
    hf_s = time.perf_counter() - start
    hf = [tok.decode(row[batch.input_ids.shape[1] :], skip_special_tokens=True) for row in out]
    hf_tokens = sum(len(tok(o, add_special_tokens=False).input_ids) for o in hf)
    # generate() returns prompts in their original order; ours sorts by length internally but returns in order.
    agree = sum(truncate_after_code(h).strip() == truncate_after_code(o).strip() for h, o in zip(hf, ours, strict=True))

    print(f"prompts: {len(messages)}, threads: {args.threads}, max_new_tokens: {args.max_new_tokens}")
    print(f"model.generate : {hf_s:7.1f} s  {hf_tokens:6d} tokens  {hf_tokens / hf_s:6.1f} tokens/s")
    print(f"decode loop    : {ours_s:7.1f} s  {ours_tokens:6d} tokens  {ours_tokens / ours_s:6.1f} tokens/s")
    print(f"wall-time ratio (generate / loop): {hf_s / ours_s:.2f}x")
    print(f"answers (up to the closed code block) that agree: {agree}/{len(messages)}")


if __name__ == "__main__":
    main()
