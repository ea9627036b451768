"""Benchmark: PRM step scoring of 400 PRMBench instances on a small local model (CPU).

Run: python bench/prm_scoring.py [--instances 400] [--hidden 256] [--layers 4] [--vocab 32000]
                                 [--batch-tokens 16384]
Builds a math-shepherd-shaped model (Llama architecture, random weights, Mistral's 32,000-token
vocabulary with tied embeddings, a word-level tokenizer over the data) and scores the same
instances three ways in the same process:
- reference: one instance per forward pass through the whole model, full-vocabulary logits,
  then the '+'/'-' softmax at each tag (what PRMBench's evaluator and the model card do);
- engine, one per pass: surestep's scorer with a batch of one (isolates the bucketing);
- surestep: length-bucketed batches.
Prints steps/s and tokens/s of each, the ratios (goal: at least 3x) and the largest score
differences.
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


def build_model(directory: Path, texts: list[str], hidden: int, layers: int, vocab: int) -> int:
    tokenizer = tiny_tokenizer(texts)
    config = transformers.LlamaConfig(
        vocab_size=max(vocab, len(tokenizer)),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),
        num_key_value_heads=max(1, hidden // 128),
        max_position_embeddings=4096,
        pad_token_id=0,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory / "tokenizer")
    return sum(p.numel() for p in model.parameters())


def timed_score(scorer: MathShepherd, items: list[SolutionToScore]) -> tuple[list, float]:
    start = time.perf_counter()
    results = [r.step_scores for r in scorer.score(items)]
    return results, time.perf_counter() - start


def reference_score(scorer: MathShepherd, items: list[SolutionToScore]) -> tuple[list, float]:
    """One instance per forward pass, full logits, softmax over the two label tokens at each tag."""
    start = time.perf_counter()
    results = []
    with torch.inference_mode():
        for item in items:
            encoded = scorer.encode(item)
            logits = scorer.model(input_ids=torch.tensor([encoded.input_ids])).logits[0]
            pair = logits[encoded.read_positions][:, [scorer.good_id, scorer.bad_id]].float()
            results.append(tuple(pair.softmax(dim=-1)[:, 0].tolist()))
    return results, time.perf_counter() - start


def largest_difference(a: list, b: list) -> float:
    return max((abs(x - y) for u, v in zip(a, b) for x, y in zip(u, v)), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=str(REPO.parent / "shared" / "data" / "prmbench" / "subset400.jsonl")
    )
    parser.add_argument("--instances", type=int, default=400)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=32000, help="vocabulary size (Mistral's: 32000)")
    parser.add_argument("--batch-tokens", type=int, default=16384)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    bench = load_prmbench(args.data)
    instances = bench.instances[: args.instances]
    items = [SolutionToScore(i.id, i.question, i.steps) for i in instances]
    texts = [i.question for i in instances] + [s for i in instances for s in i.steps]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        parameters = build_model(directory, texts, args.hidden, args.layers, args.vocab)
        scorer = MathShepherd(str(directory), device=args.device, tokenizer=str(directory / "tokenizer"))
        tokens = sum(len(scorer.encode(item).input_ids) for item in items)
        steps = sum(len(item.steps) for item in items)
        scorer.score(items[:8])  # warm-up
        reference, t_reference = reference_score(scorer, items)
        scorer.batch_tokens = 1
        alone, t_alone = timed_score(scorer, items)
        scorer.batch_tokens = args.batch_tokens
        batched, t_batched = timed_score(scorer, items)
    print(
        f"model: {parameters / 1e6:.1f}M parameters; {len(items)} instances, {steps} steps, {tokens} tokens; "
        f"torch threads {torch.get_num_threads()}, device {args.device}"
    )
    for label, seconds in (
        ("reference, one per pass, full logits", t_reference),
        ("engine, one instance per pass", t_alone),
        (f"surestep, bucketed ({args.batch_tokens} tokens)", t_batched),
    ):
        print(
            f"{label:42s} {seconds:7.2f} s  {steps / seconds:8.0f} steps/s  {tokens / seconds:9.0f} tokens/s"
        )
    ratio = t_reference / t_batched
    print(
        f"surestep vs reference: {ratio:.2f}x (goal >= 3x: {'met' if ratio >= 3 else 'MISSED'}); "
        f"largest score difference {largest_difference(reference, batched):.2e}"
    )
    print(
        f"bucketing alone (engine one per pass / bucketed): {t_alone / t_batched:.2f}x; "
        f"largest score difference {largest_difference(alone, batched):.2e}"
    )


if __name__ == "__main__":
    main()
