"""Benchmark: PRM step scoring of 400 PRMBench instances on a small local model (CPU).

Run: python bench/prm_scoring.py [--instances 400] [--hidden 256] [--layers 4] [--batch-tokens 16384]
Builds a math-shepherd-shaped model (Llama architecture, random weights, a few million
parameters, a word-level tokenizer over the data) and scores the same instances twice in the
same process: one instance per forward pass (the baseline) and surestep's length-bucketed
batches. Prints steps/s of each, the ratio (goal: at least 3x) and the largest score difference.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for the tiny-model builder the tests use

import torch  # noqa: E402
import transformers  # noqa: E402
from tests.prm.tiny_models import tiny_tokenizer  # noqa: E402

from surestep.prm.data import load_prmbench  # noqa: E402
from surestep.prm.scorers.base import SolutionToScore  # noqa: E402
from surestep.prm.scorers.transformers_prm import MathShepherd  # noqa: E402


def build_model(directory: Path, texts: list[str], hidden: int, layers: int) -> int:
    tokenizer = tiny_tokenizer(texts)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64), num_key_value_heads=max(1, hidden // 128),
        max_position_embeddings=4096, pad_token_id=0,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory / "tokenizer")
    return sum(p.numel() for p in model.parameters())


def timed_score(scorer: MathShepherd, items: list[SolutionToScore]) -> tuple[list, float]:
    start = time.perf_counter()
    results = scorer.score(items)
    return results, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "prmbench" / "subset400.jsonl"))
    parser.add_argument("--instances", type=int, default=400)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch-tokens", type=int, default=16384)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    bench = load_prmbench(args.data)
    instances = bench.instances[: args.instances]
    items = [SolutionToScore(i.id, i.question, i.steps) for i in instances]
    texts = [i.question for i in instances] + [s for i in instances for s in i.steps]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        parameters = build_model(directory, texts, args.hidden, args.layers)
        scorer = MathShepherd(str(directory), device=args.device, tokenizer=str(directory / "tokenizer"))
        tokens = sum(len(scorer.encode(item).input_ids) for item in items)
        steps = sum(len(item.steps) for item in items)
        scorer.score(items[:8])  # warm-up
        scorer.batch_tokens = 1
        alone, t_alone = timed_score(scorer, items)
        scorer.batch_tokens = args.batch_tokens
        batched, t_batched = timed_score(scorer, items)
    difference = max(
        (abs(a - b) for x, y in zip(alone, batched) for a, b in zip(x.step_scores, y.step_scores)), default=0.0
    )
    print(f"model: {parameters / 1e6:.1f}M parameters; {len(items)} instances, {steps} steps, {tokens} tokens; "
          f"torch threads {torch.get_num_threads()}, device {args.device}")
    print(f"one instance per forward pass: {t_alone:7.2f} s  {steps / t_alone:8.0f} steps/s  "
          f"{tokens / t_alone:9.0f} tokens/s")
    print(f"bucketed (batch-tokens {args.batch_tokens}): {t_batched:7.2f} s  {steps / t_batched:8.0f} steps/s  "
          f"{tokens / t_batched:9.0f} tokens/s")
    ratio = t_alone / t_batched
    print(f"ratio {ratio:.2f}x (goal >= 3x: {'met' if ratio >= 3 else 'MISSED'}); "
          f"largest score difference {difference:.2e}")


if __name__ == "__main__":
    main()
