"""Transformers PRM scorers on tiny local models: read positions, values, batching, truncation."""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch", reason="the PRM scorers need torch (extra 'prm')")

import safetensors.torch  # noqa: E402

from surestep.prm.scorers.base import SolutionToScore, length_buckets  # noqa: E402
from surestep.prm.scorers.transformers_prm import (  # noqa: E402
    TRANSFORMERS_SCORERS,
    strip_step_prefix,
)
from tests.prm.tiny_models import build  # noqa: E402

ITEMS = [
    SolutionToScore(
        "a", "What is one plus one ?", ("1. One plus one is two alpha", "Step 2: So the answer is beta")
    ),
    SolutionToScore(
        "b",
        "Compute two times three and add four .",
        (
            "Two times three is six gamma",
            "Six plus four is ten delta",
            "The answer is ten epsilon",
            "We are done zeta",
        ),
    ),
    SolutionToScore("c", "Is seven prime ?", ("Seven has no divisors but one and itself eta",)),
]
LAST_WORDS = [["alpha", "beta"], ["gamma", "delta", "epsilon", "zeta"], ["eta"]]
TEXTS = [i.question for i in ITEMS] + [s for i in ITEMS for s in i.steps]


@pytest.fixture(scope="module", params=sorted(TRANSFORMERS_SCORERS))
def scorer(request, tmp_path_factory):
    family = request.param
    directory = build(family, tmp_path_factory.mktemp(family), TEXTS)
    return TRANSFORMERS_SCORERS[family](
        str(directory), batch_tokens=4096, tokenizer=str(directory / "tokenizer")
    )


# the token each of these families reads at, right after each step's last word
SEPARATOR_TOKENS = {"skywork-prm": "\n", "pure-prm": "\n\n", "mathminos": "и", "llemma-prm": "\n\n"}


def _tokens(scorer, ids, positions):
    return scorer.tokenizer.convert_ids_to_tokens([ids[p] for p in positions])


def test_one_read_position_per_step_at_the_right_token(scorer):
    for item, last_words in zip(ITEMS, LAST_WORDS):
        encoded = scorer.encode(item)
        assert encoded.error is None
        assert len(encoded.read_positions) == len(item.steps)
        tokens = _tokens(scorer, encoded.input_ids, encoded.read_positions)
        if scorer.name == "math-shepherd":
            assert tokens == ["ки"] * len(item.steps)
            # each tag closes its step: the token before it is the step's last word
            assert _tokens(scorer, encoded.input_ids, [p - 1 for p in encoded.read_positions]) == last_words
        elif scorer.name == "qwen-prm":
            assert tokens == ["<extra_0>"] * len(item.steps)
            assert _tokens(scorer, encoded.input_ids, [p - 1 for p in encoded.read_positions]) == last_words
        elif scorer.name == "rlhflow-prm":
            # the output at the end of each assistant header ('...<|end_header_id|>\n\n') predicts '+'
            assert tokens == ["\n\n"] * len(item.steps)
            assert _tokens(scorer, encoded.input_ids, [p + 1 for p in encoded.read_positions]) == ["+"] * len(
                item.steps
            )
            headers = _tokens(scorer, encoded.input_ids, [p - 2 for p in encoded.read_positions])
            assert headers == ["assistant"] * len(item.steps)
        elif scorer.name == "reasoneval":
            assert tokens == last_words
        elif scorer.name in SEPARATOR_TOKENS:
            assert tokens == [SEPARATOR_TOKENS[scorer.name]] * len(item.steps)
            assert _tokens(scorer, encoded.input_ids, [p - 1 for p in encoded.read_positions]) == last_words
        else:
            pytest.fail(f"no position check for {scorer.name}")


def _expected(scorer, item):
    """The scores computed by hand from one unbatched full-model forward pass at the claimed positions."""
    encoded = scorer.encode(item)
    ids = torch.tensor([encoded.input_ids])
    at = encoded.read_positions
    with torch.no_grad():
        if scorer.name in ("math-shepherd", "rlhflow-prm"):
            logits = scorer.model(input_ids=ids).logits[0, at].float()
            good, bad = logits[:, scorer.good_id], logits[:, scorer.bad_id]
            return torch.exp(good) / (torch.exp(good) + torch.exp(bad)), None
        if scorer.name == "llemma-prm":  # the whole vocabulary's logits, averaged
            return scorer.model(input_ids=ids).logits[0, at].float().mean(-1).sigmoid(), None
        if scorer.name == "skywork-prm":  # the value head over every position
            return scorer.model(input_ids=ids, attention_mask=torch.ones_like(ids))[0, at, 0].sigmoid(), None
        if scorer.name == "mathminos":
            return scorer.model(input_ids=ids).logits[0, at, 0].sigmoid(), None
        out = scorer.forward(ids, torch.ones_like(ids))[0, at].float()
    if scorer.name in ("qwen-prm", "pure-prm"):
        return out.softmax(-1)[:, 1], None
    p = out.softmax(-1)
    return p[:, 1] + p[:, 2], p[:, 1]


def test_scores_are_the_heads_outputs_at_those_positions(scorer):
    for result, item in zip(scorer.score(ITEMS), ITEMS):
        validity, redundancy = _expected(scorer, item)
        assert result.id == item.id and result.valid and result.truncated_steps == 0
        assert len(result.step_scores) == len(item.steps)
        assert result.step_scores == pytest.approx(validity.tolist(), abs=1e-5)
        if redundancy is None:
            assert result.redundancy_scores is None
        else:
            assert result.redundancy_scores == pytest.approx(redundancy.tolist(), abs=1e-5)
        assert all(0.0 <= s <= 1.0 for s in result.step_scores)


def test_batched_scores_equal_one_at_a_time(scorer):
    batched = scorer.score(ITEMS)
    scorer.batch_tokens = 1  # every instance gets a forward pass of its own
    try:
        alone = scorer.score(ITEMS)
    finally:
        scorer.batch_tokens = 4096
    for a, b in zip(batched, alone):
        assert a.step_scores == pytest.approx(b.step_scores, abs=1e-5)


def test_truncation_at_the_context_is_counted(scorer):
    encoded = scorer.encode(ITEMS[1])
    cut = encoded.read_positions[1] + 1  # room for the first two steps' read positions only
    scorer.max_length = cut
    try:
        (result,) = scorer.score([ITEMS[1]])
    finally:
        scorer.max_length = 512
    assert result.truncated_steps == 2
    assert len(result.step_scores) == 2
    full = scorer.score([ITEMS[1]])[0]
    assert result.step_scores == pytest.approx(full.step_scores[:2], abs=1e-5)


def test_a_step_containing_the_separator_is_reported_not_misread(tmp_path):
    directory = build("qwen-prm", tmp_path / "q", TEXTS)
    scorer = TRANSFORMERS_SCORERS["qwen-prm"](str(directory), tokenizer=str(directory / "tokenizer"))
    bad = SolutionToScore("x", "Why ?", ("Because <extra_0> of this", "Done"))
    (result,) = scorer.score([bad])
    assert not result.valid
    assert result.error == "found 3 '<extra_0>' separators for 2 steps"


def test_skywork_value_head_is_loaded_from_the_checkpoint_and_differences_are_optional(tmp_path):
    directory = build("skywork-prm", tmp_path / "s", TEXTS)
    saved = safetensors.torch.load_file(directory / "model.safetensors")
    options = {"tokenizer": str(directory / "tokenizer")}
    plain = TRANSFORMERS_SCORERS["skywork-prm"](str(directory), **options)
    assert torch.equal(plain.model.head.weight, saved["v_head.summary.weight"])
    assert torch.equal(plain.model.head.bias, saved["v_head.summary.bias"])
    differences = TRANSFORMERS_SCORERS["skywork-prm"](str(directory), reward_differences=True, **options)
    rewards = plain.score([ITEMS[1]])[0].step_scores
    scores = differences.score([ITEMS[1]])[0].step_scores
    assert scores == pytest.approx([rewards[0], *(b - a for a, b in itertools.pairwise(rewards))], abs=1e-6)


def test_reasoneval_score_head_is_loaded_from_the_checkpoint(tmp_path):
    directory = build("reasoneval", tmp_path / "r", TEXTS)
    saved = safetensors.torch.load_file(directory / "model.safetensors")
    scorer = TRANSFORMERS_SCORERS["reasoneval"](str(directory), tokenizer=str(directory / "tokenizer"))
    assert torch.equal(scorer.model.head.weight, saved["score_head.weight"])


def test_llemma_reads_the_first_of_two_line_break_tokens(tmp_path):
    """SentencePiece makes a blank line two tokens; the score is read at the first of them."""
    directory = build("llemma-prm", tmp_path / "l", TEXTS, blank_line_token=False)
    scorer = TRANSFORMERS_SCORERS["llemma-prm"](str(directory), tokenizer=str(directory / "tokenizer"))
    for item, last_words in zip(ITEMS, LAST_WORDS):
        encoded = scorer.encode(item)
        positions = encoded.read_positions
        assert _tokens(scorer, encoded.input_ids, positions) == ["\n"] * len(item.steps)
        assert _tokens(scorer, encoded.input_ids, [p + 1 for p in positions]) == ["\n"] * len(item.steps)
        assert _tokens(scorer, encoded.input_ids, [p - 1 for p in positions]) == last_words
    (result,) = scorer.score([ITEMS[0]])
    assert result.step_scores == pytest.approx(_expected(scorer, ITEMS[0])[0].tolist(), abs=1e-5)


def test_length_buckets_respect_the_budget():
    lengths = [5, 50, 7, 300, 40, 6]
    batches = length_buckets(lengths, batch_tokens=100)
    assert sorted(i for b in batches for i in b) == list(range(6))
    for batch in batches:
        assert len(batch) == 1 or max(lengths[i] for i in batch) * len(batch) <= 100
    assert [lengths[b[0]] for b in batches] == sorted(lengths[b[0]] for b in batches)


def test_strip_step_prefix():
    assert strip_step_prefix("3. Solve x") == "Solve x"
    assert strip_step_prefix("Step 12: Solve x") == "Solve x"
    assert strip_step_prefix("step 2. Solve") == "Solve"
    assert strip_step_prefix("3.5 is the answer") == "3.5 is the answer"
