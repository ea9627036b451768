"""Both protocols of every transformers family on tiny local models: the exact tokens fed, the exact
read positions and the scores read there, each checked against an expectation written by hand.

The ``prmbench`` expectations are derived from PRMBench's wrappers (``ssmisya/PRMBench`` at a1ae4ea,
``mr_eval/models/*.py``; each test cites the lines); the ``card`` ones from the model cards. The
solution's three steps exercise the step cleaning: "1. ..." (both protocols strip the number,
except where PRMBench keeps raw text), "Step 2: ..." (PRMBench's regex only strips "Step N." with
a period) and "7.8 ..." (PRMBench's regex strips "7.", ours keeps the number).
"""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch", reason="the PRM scorers need torch (extra 'prm')")

import safetensors.torch  # noqa: E402

from surestep.errors import SurestepError  # noqa: E402
from surestep.prm.protocol import PRMBENCH_MAX_LENGTH, prmbench_strip  # noqa: E402
from surestep.prm.scorers.base import SolutionToScore  # noqa: E402
from surestep.prm.scorers.transformers_prm import TRANSFORMERS_SCORERS, QwenPRM  # noqa: E402
from tests.prm.tiny_models import build  # noqa: E402

QUESTION = "What is one plus one ?"
STEPS = ("1. One plus one is two alpha", "Step 2: So the answer is beta", "7.8 is not an answer gamma")
ITEM = SolutionToScore("x", QUESTION, STEPS)
TEXTS = [QUESTION, *STEPS, QwenPRM.system, "Step 1: Step 2: Step 3:"]
_WORDS = re.compile(r"\w+|[^\w\s]+")


def w(text: str) -> list[str]:
    """The tiny word-level tokenizer's tokens for plain text (no line breaks, no special tokens)."""
    return _WORDS.findall(text)


def _scorer(tmp_path, family, protocol, **build_options):
    directory = build(family, tmp_path / f"{family}-{protocol}", TEXTS, **build_options)
    return TRANSFORMERS_SCORERS[family](
        str(directory), protocol=protocol, tokenizer=str(directory / "tokenizer")
    )


def _fed(scorer, item=ITEM):
    encoded = scorer.encode(item)
    assert encoded.error is None, encoded.error
    return scorer.tokenizer.convert_ids_to_tokens(encoded.input_ids), encoded.read_positions


def _forward(scorer, ids):
    with torch.no_grad():
        return scorer.model(
            input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long)
        )


# --- math-shepherd ---------------------------------------------------------------------------


def test_math_shepherd_card(tmp_path):
    scorer = _scorer(tmp_path, "math-shepherd", "card")
    tokens, reads = _fed(scorer)
    assert tokens == [
        "<s>",
        *w(QUESTION),
        *w("Step 1: One plus one is two alpha"),
        "ки",
        "\n",
        *w("Step 2: So the answer is beta"),
        "ки",
        "\n",
        *w("Step 3: 7.8 is not an answer gamma"),
        "ки",
        "\n",
    ]
    assert reads == [16, 26, 39]
    assert scorer.model.dtype == torch.float32 and scorer.max_length == 512  # the tiny model's context


def test_math_shepherd_prmbench(tmp_path):
    # math_shepherd.py:48-54: a step starting with "Step" keeps its text, the others get "Step k: "
    # before their unstripped text; :55-56 "{question} {steps}" encoded with the BOS; :88 every 'ки'
    scorer = _scorer(tmp_path, "math-shepherd", "prmbench")
    tokens, reads = _fed(scorer)
    assert tokens == [
        "<s>",
        *w(QUESTION),
        *w("Step 1: 1. One plus one is two alpha"),
        "ки",
        "\n",
        *w("Step 2: So the answer is beta"),
        "ки",
        "\n",
        *w("Step 3: 7.8 is not an answer gamma"),
        "ки",
        "\n",
    ]
    assert reads == [18, 28, 41]
    ids = scorer.encode(ITEM).input_ids
    # :34 encode("+ -")[1:] and :86-87 the softmax over those two logits, p('+')
    logits = _forward(scorer, ids).logits[0, reads][:, [scorer.good_id, scorer.bad_id]]
    (result,) = scorer.score([ITEM])
    assert result.step_scores == pytest.approx(logits.softmax(-1)[:, 0].tolist(), abs=1e-6)
    assert scorer.tokenizer.convert_ids_to_tokens([scorer.good_id, scorer.bad_id]) == ["+", "-"]
    assert scorer.model.dtype == torch.float32


def test_math_shepherd_prmbench_reads_every_tag_positionally(tmp_path):
    """A step holding 'ки' gives PRMBench an extra read; its labels are consumed in order (:88)."""
    scorer = _scorer(tmp_path, "math-shepherd", "prmbench")
    item = SolutionToScore("t", QUESTION, ("One plus one ки is two alpha", "So the answer is beta"))
    tokens, reads = _fed(scorer, item)
    assert [tokens[r] for r in reads] == ["ки"] * 3
    (result,) = scorer.score([item])
    assert len(result.step_scores) == 2 and len(result.extra_scores) == 1
    card = _scorer(tmp_path, "math-shepherd", "card")
    (refused,) = card.score([item])
    assert not refused.valid and refused.error == "found 3 'ки' tags for 2 steps"


# --- qwen-prm --------------------------------------------------------------------------------


def _chatml(system, user, assistant_pieces):
    return [
        "<|im_start|>",
        "system",
        "\n",
        *w(system),
        "<|im_end|>",
        "\n",
        "<|im_start|>",
        "user",
        "\n",
        *w(user),
        "<|im_end|>",
        "\n",
        "<|im_start|>",
        "assistant",
        "\n",
        *assistant_pieces,
        "<|im_end|>",
        "\n",
    ]


@pytest.mark.parametrize("protocol", ["card", "prmbench"])
def test_qwen(tmp_path, protocol):
    # qwen_prm.py:56-75: PRMBench's step cleaning, each step followed by <extra_0>, the chat
    # template as text, then encode() (Qwen's tokenizer adds nothing); :102 every <extra_0>
    scorer = _scorer(tmp_path, "qwen-prm", protocol)
    third = "8 is not an answer gamma" if protocol == "prmbench" else "7.8 is not an answer gamma"
    second = "Step 2: So the answer is beta" if protocol == "prmbench" else "So the answer is beta"
    pieces = [*w("One plus one is two alpha"), "<extra_0>", *w(second), "<extra_0>", *w(third), "<extra_0>"]
    tokens, reads = _fed(scorer)
    assert tokens == _chatml(QwenPRM.system, QUESTION, pieces)
    assert [tokens[r] for r in reads] == ["<extra_0>"] * 3
    start = len(_chatml(QwenPRM.system, QUESTION, [])) - 2  # where the assistant's content begins
    assert reads == [
        start + 6,
        start + 6 + len(w(second)) + 1,
        start + 6 + len(w(second)) + len(w(third)) + 2,
    ]
    ids = scorer.encode(ITEM).input_ids
    logits = _forward(scorer, ids).logits[0, reads]
    expected = logits.softmax(-1)[:, 1]  # qwen_prm.py:131-137, in the model's dtype under prmbench
    (result,) = scorer.score([ITEM])
    assert result.step_scores == pytest.approx(
        expected.float().tolist(), abs=1e-6 if protocol == "card" else 0
    )
    assert scorer.model.dtype == (
        torch.bfloat16 if protocol == "prmbench" else torch.float32
    )  # qwen_prm.py:37


# --- rlhflow-prm -----------------------------------------------------------------------------


def _llama3(turns):
    tokens = ["<|begin_of_text|>"]
    for role, content in turns:
        tokens += ["<|start_header_id|>", role, "<|end_header_id|>", "\n\n", *w(content), "<|eot_id|>"]
    return tokens


@pytest.mark.parametrize("protocol", ["card", "prmbench"])
def test_rlhflow(tmp_path, protocol):
    # llama3_1_8b_prm.py:57-66: PRMBench's step cleaning, question + " " + step 1 as the first
    # user turn, '+' as every assistant turn; :96-99 read 3 after each assistant-header pattern,
    # the softmax over the whole vocabulary, p('+')
    scorer = _scorer(tmp_path, "rlhflow-prm", protocol)
    clean = prmbench_strip if protocol == "prmbench" else (lambda s: re.sub(r"^(Step \d+: |1\. )", "", s))
    users = [f"{QUESTION} {clean(STEPS[0])}", clean(STEPS[1]), clean(STEPS[2])]
    tokens, reads = _fed(scorer)
    assert tokens == _llama3(
        [(role, text) for user in users for role, text in (("user", user), ("assistant", "+"))]
    )
    first = 1 + 4 + len(w(users[0])) + 1 + 3  # BOS, user header, its content, eot, assistant header
    second = first + 3 + 4 + len(w(users[1])) + 1 + 3
    third = second + 3 + 4 + len(w(users[2])) + 1 + 3
    assert reads == [first, second, third]
    assert [tokens[r + 1] for r in reads] == ["+"] * 3
    logits = _forward(scorer, scorer.encode(ITEM).input_ids).logits[0, reads]
    if protocol == "prmbench":
        expected = logits.softmax(-1)[:, scorer.good_id]
    else:
        expected = logits[:, [scorer.good_id, scorer.bad_id]].softmax(-1)[:, 0]
    (result,) = scorer.score([ITEM])
    assert result.step_scores == pytest.approx(expected.tolist(), abs=1e-6)
    assert scorer.model.dtype == torch.float32


def test_rlhflow_prmbench_needs_the_whole_pattern_inside_the_cut(tmp_path):
    """PRMBench searches the cut ids for the six-token pattern (:96): a read whose '+<|eot_id|>' was
    cut off is lost, though the read position itself survived."""
    scorer = _scorer(tmp_path, "rlhflow-prm", "prmbench")
    reads = scorer.encode(ITEM).read_positions
    scorer.max_length = reads[1] + 2  # the second read and its '+' survive, its <|eot_id|> does not
    (result,) = scorer.score([ITEM])
    assert len(result.step_scores) == 1 and result.truncated_steps == 2
    card = _scorer(tmp_path, "rlhflow-prm", "card")
    card.max_length = reads[1] + 2
    assert len(card.score([ITEM])[0].step_scores) == 2


# --- reasoneval ------------------------------------------------------------------------------

PROMPT = [
    "<s>",
    *w("Question:"),
    "\n",
    *w(QUESTION),
    "\n",
    *w("Answer:"),
    "\n",
    *w("Let's think step by step."),
    "\n",
]


def test_reasoneval_card(tmp_path):
    scorer = _scorer(tmp_path, "reasoneval", "card")
    tokens, reads = _fed(scorer)
    assert tokens == [
        *PROMPT,
        *w("One plus one is two alpha"),
        *w("So the answer is beta"),
        *w("7.8 is not an answer gamma"),
    ]
    assert [tokens[r] for r in reads] == ["alpha", "beta", "gamma"]  # each step's last token


def test_reasoneval_7b_prmbench_reads_the_second_to_last_token(tmp_path):
    # reasoneval.py:50-73: steps joined by the pad token; separators dropped, each separator's
    # index minus one minus the separators before it kept; for the 7B, token 1 re-inserted in front
    # without shifting those indices and the first two skipped. With the BOS as pad token (the
    # only way the official code gives one index per step), every read lands one token early.
    scorer = _scorer(tmp_path, "reasoneval", "prmbench", pad_token="<s>")
    tokens, reads = _fed(scorer)
    fed = [
        *PROMPT,
        *w("One plus one is two alpha"),
        *w("Step 2: So the answer is beta"),
        *w("8 is not an answer gamma"),
    ]
    assert tokens == fed
    assert reads == [27, 35, 41]
    assert [tokens[r] for r in reads] == ["two", "is", "answer"]
    assert scorer.model.dtype == torch.bfloat16  # reasoneval.py:32
    with torch.no_grad():  # reasoneval.py:107-115: softmax in bfloat16, sums of Python floats
        p = _forward(scorer, scorer.encode(ITEM).input_ids)[0, reads].softmax(-1).tolist()
    (result,) = scorer.score([ITEM])
    assert list(result.step_scores) == [a[1] + a[2] for a in p]
    assert list(result.redundancy_scores) == [a[1] for a in p]


def test_reasoneval_34b_prmbench_reads_the_last_token(tmp_path):
    # reasoneval.py:74-76: the 34B keeps the BOS and skips only the separator after the prompt
    scorer = _scorer(tmp_path, "reasoneval", "prmbench", body="llama")
    tokens, reads = _fed(scorer)
    assert tokens == [
        *PROMPT,
        *w("One plus one is two alpha"),
        *w("Step 2: So the answer is beta"),
        *w("8 is not an answer gamma"),
    ]
    assert reads == [28, 36, 42]
    assert [tokens[r] for r in reads] == ["alpha", "beta", "gamma"]


def test_reasoneval_7b_prmbench_refuses_a_pad_token_that_is_not_the_bos(tmp_path):
    with pytest.raises(SurestepError, match=r"pad token '<pad>' is id 0"):
        _scorer(tmp_path, "reasoneval", "prmbench")


# --- skywork-prm -----------------------------------------------------------------------------


def test_skywork_card(tmp_path):
    scorer = _scorer(tmp_path, "skywork-prm", "card")
    tokens, reads = _fed(scorer)
    assert tokens == [
        "<s>",
        *w(QUESTION),
        "\n",
        *w("One plus one is two alpha"),
        "\n",
        *w("So the answer is beta"),
        "\n",
        *w("7.8 is not an answer gamma"),
        "\n",
    ]
    assert reads == [14, 20, 29]
    (result,) = scorer.score([ITEM])
    assert len(result.step_scores) == 3 and result.extra_scores == ()


def test_skywork_prmbench_gives_n_plus_one_rewards(tmp_path):
    # skywork_prm.py:56-66: "Step k: {cleaned step} ки\n" per step, through Skywork's prepare_input
    # (io_utils.py:4-23): bos + question + "\n", then each piece of the response split on 'ки',
    # followed by the 'ки' id and read there; the final "\n" is a piece too. :104 differences.
    scorer = _scorer(tmp_path, "skywork-prm", "prmbench")
    tokens, reads = _fed(scorer)
    assert tokens == [
        "<s>",
        *w(QUESTION),
        "\n",
        *w("Step 1: One plus one is two alpha"),
        "ки",
        "\n",
        *w("Step 2: Step 2: So the answer is beta"),
        "ки",
        "\n",
        *w("Step 3: 8 is not an answer gamma"),
        "ки",
        "\n",
        "ки",
    ]
    assert reads == [17, 30, 41, 43]
    with torch.no_grad():
        rewards = _forward(scorer, scorer.encode(ITEM).input_ids)[0, reads, 0].sigmoid().tolist()
    (result,) = scorer.score([ITEM])
    differences = [rewards[0], rewards[1] - rewards[0], rewards[2] - rewards[1], rewards[3] - rewards[2]]
    assert result.step_scores == pytest.approx(differences[:3], abs=1e-6)
    assert result.extra_scores == pytest.approx(differences[3:], abs=1e-6)
    assert scorer.model.dtype == torch.float32  # skywork_prm.py:47
    assert scorer.defaults.threshold.value == -0.05


# --- llemma-prm ------------------------------------------------------------------------------


def _sentencepiece(text):
    """The SentencePiece-like tiny tokenizer's tokens: a dummy prefix, one token per character of
    punctuation and per line break."""
    return ["<s>", "\u2581", *re.findall(r"\w+|\n|[^\w\s]", text)]


def test_llemma_card(tmp_path):
    scorer = _scorer(tmp_path, "llemma-prm", "card", sentencepiece=True)
    tokens, reads = _fed(scorer)
    text = (
        "# Question\n\nWhat is one plus one ?\n\n# Solution\n\nOne plus one is two alpha\n\n"
        "So the answer is beta\n\n7.8 is not an answer gamma\n\n"
    )
    assert tokens == _sentencepiece(text)
    assert reads == [24, 31, 41]  # the first '\n' after each step
    assert [tokens[r - 1] for r in reads] == ["alpha", "beta", "gamma"]


def test_llemma_prmbench_reads_one_position_early(tmp_path):
    # llemma7b_prm.py:48-58: raw steps (blank lines deleted), each followed by "\n\n"; :54-55 the
    # patterns encode("\n\n")[1:] and encode("\n\n# Solution")[1:]; :60-75 every "\n\n" from the
    # marker on, the first (before "# Solution") deleted. So step 1 is read after "# Solution",
    # step k at the end of step k-1, and the end of the last step gives an extra read.
    scorer = _scorer(tmp_path, "llemma-prm", "prmbench", sentencepiece=True)
    tokens, reads = _fed(scorer)
    text = (
        "# Question\n\nWhat is one plus one ?\n\n# Solution\n\n1. One plus one is two alpha\n\n"
        "Step 2: So the answer is beta\n\n7.8 is not an answer gamma\n\n"
    )
    assert tokens == _sentencepiece(text)
    assert reads == [16, 26, 36, 46]
    assert [tokens[r - 1] for r in reads] == ["Solution", "alpha", "beta", "gamma"]
    with torch.no_grad():
        mean = _forward(scorer, scorer.encode(ITEM).input_ids).logits[0, reads].mean(-1)
    (result,) = scorer.score([ITEM])
    assert result.step_scores == pytest.approx(mean.sigmoid()[:3].tolist(), abs=1e-6)
    assert result.extra_scores == pytest.approx(mean.sigmoid()[3:].tolist(), abs=1e-6)


def test_llemma_prmbench_deletes_blank_lines_inside_steps(tmp_path):
    scorer = _scorer(tmp_path, "llemma-prm", "prmbench", sentencepiece=True)
    item = SolutionToScore("b", QUESTION, ("One plus one\n\nis two alpha",))
    tokens, reads = _fed(scorer, item)
    assert "\n" not in tokens[tokens.index("One") : tokens.index("alpha")]  # deleted, not replaced
    assert len(reads) == 2
    card = _scorer(tmp_path, "llemma-prm", "card", sentencepiece=True)
    tokens, reads = _fed(card, item)
    assert tokens[tokens.index("One") + 3] == "\n" and len(reads) == 1  # card: one line break


def test_llemma_prmbench_refuses_a_tokenizer_without_a_dummy_prefix(tmp_path):
    with pytest.raises(SurestepError, match=r"encode\('\\n\\n'\)\[1:\]"):
        _scorer(tmp_path, "llemma-prm", "prmbench", blank_line_token=False)


# --- mathminos -------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["card", "prmbench"])
def test_mathminos(tmp_path, protocol):
    # mathminos_mistral.py:50-57: "Human: {q}\n\nAssistant:" then "Step k: {cleaned} и\n";
    # :85-98 the raw logit at every 'и', judged at 0
    scorer = _scorer(tmp_path, "mathminos", protocol)
    steps = (
        [prmbench_strip(s) for s in STEPS]
        if protocol == "prmbench"
        else ["One plus one is two alpha", "So the answer is beta", "7.8 is not an answer gamma"]
    )
    tokens, reads = _fed(scorer)
    expected = ["<s>", *w(f"Human: {QUESTION}"), "\n\n", *w("Assistant:")]
    for k, step in enumerate(steps, start=1):
        expected += [*w(f"Step {k}: {step}"), "и", "\n"]
    assert tokens == expected
    assert reads == ([21, 34, 45] if protocol == "prmbench" else [21, 31, 44])
    logits = _forward(scorer, scorer.encode(ITEM).input_ids).logits[0, reads, 0]
    (result,) = scorer.score([ITEM])
    expected_scores = logits if protocol == "prmbench" else logits.sigmoid()
    assert result.step_scores == pytest.approx(expected_scores.tolist(), abs=1e-6)
    assert scorer.defaults.threshold.value == (0.0 if protocol == "prmbench" else 0.5)


# --- pure-prm --------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["card", "prmbench"])
def test_pure(tmp_path, protocol):
    # pure_prm.py:47-55: the question's tokens, then each raw step's tokens and the "\n\n" token;
    # :112-117 the reward p1 - p0 of the softmax, in bfloat16, judged at 0
    scorer = _scorer(tmp_path, "pure-prm", protocol)
    steps = (
        STEPS if protocol == "prmbench" else ("One plus one is two alpha", "So the answer is beta", STEPS[2])
    )
    tokens, reads = _fed(scorer)
    assert tokens == [*w(QUESTION), *w(steps[0]), "\n\n", *w(steps[1]), "\n\n", *w(steps[2]), "\n\n"]
    assert reads == ([14, 23, 32] if protocol == "prmbench" else [12, 18, 27])
    p = _forward(scorer, scorer.encode(ITEM).input_ids).logits[0, reads].softmax(-1)
    (result,) = scorer.score([ITEM])
    if protocol == "prmbench":
        assert scorer.model.dtype == torch.bfloat16
        assert list(result.step_scores) == (p[:, 1] - p[:, 0]).tolist()
    else:
        assert result.step_scores == pytest.approx(p[:, 1].tolist(), abs=1e-6)


# --- what every prmbench family shares -------------------------------------------------------


@pytest.mark.parametrize("family", sorted(TRANSFORMERS_SCORERS))
def test_prmbench_cuts_inputs_at_2048_tokens_and_card_at_the_context(tmp_path, family):
    options = {"sentencepiece": True} if family == "llemma-prm" else {}
    options |= {"pad_token": "<s>"} if family == "reasoneval" else {}
    directory = build(family, tmp_path / family, TEXTS, context=4096, **options)
    made = {
        protocol: TRANSFORMERS_SCORERS[family](
            str(directory), protocol=protocol, tokenizer=str(directory / "tokenizer")
        )
        for protocol in ("prmbench", "card")
    }
    assert made["prmbench"].max_length == PRMBENCH_MAX_LENGTH
    assert made["card"].max_length == 4096
    long_item = SolutionToScore("long", QUESTION, tuple(f"{STEPS[0]} {'one ' * 150}alpha" for _ in range(16)))
    (result,) = made["prmbench"].score([long_item])
    assert 0 < len(result.step_scores) < 16 and result.truncated_steps == 16 - len(result.step_scores)
    assert made["card"].score([long_item])[0].truncated_steps == 0


def test_a_checkpoint_without_its_head_is_refused(tmp_path):
    for family, keys in (
        ("skywork-prm", ["v_head.summary.bias", "v_head.summary.weight"]),
        ("reasoneval", ["score_head.weight"]),
        ("qwen-prm", ["score.bias", "score.weight"]),
    ):
        directory = build(family, tmp_path / family, TEXTS)
        weights = directory / "model.safetensors"
        tensors = safetensors.torch.load_file(weights)
        present = [k for k in keys if k in tensors]
        assert present, family
        for key in present:
            del tensors[key]
        safetensors.torch.save_file(tensors, weights, metadata={"format": "pt"})
        for protocol in ("card", "prmbench"):
            with pytest.raises(
                SurestepError, match=r"not a .* checkpoint: weights missing " + ", ".join(present)
            ):
                TRANSFORMERS_SCORERS[family](
                    str(directory), protocol=protocol, tokenizer=str(directory / "tokenizer")
                )


def test_tokenizers_that_do_not_encode_as_prmbench_requires_are_refused(tmp_path):
    # math_shepherd.py:34 drops encode("+ -")'s first token, assuming a BOS: a tokenizer without one
    # leaves a single label
    no_bos = build("pure-prm", tmp_path / "no-bos", TEXTS)  # a Qwen-like tokenizer: no BOS
    shepherd = build("math-shepherd", tmp_path / "shepherd", TEXTS)
    with pytest.raises(SurestepError, match=r"encode\('\+ -'\)\[1:\] should be two tokens"):
        TRANSFORMERS_SCORERS["math-shepherd"](
            str(shepherd), protocol="prmbench", tokenizer=str(no_bos / "tokenizer")
        )
    # qwen_prm.py:45 reads encode("<extra_0>")[0]: a tokenizer that adds a BOS would read at the BOS
    qwen = build("qwen-prm", tmp_path / "qwen", TEXTS)
    with pytest.raises(SurestepError, match=r"encode\('<extra_0>'\)\[0\].* gives 2 tokens"):
        TRANSFORMERS_SCORERS["qwen-prm"](
            str(qwen), protocol="prmbench", tokenizer=str(shepherd / "tokenizer")
        )
