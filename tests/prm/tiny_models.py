"""Tiny PRMs built locally (random weights, two layers, a word-level tokenizer) in each family's shape.

No weights can be downloaded in tests; these have the published models' architectures and the
tokens each input format needs, so the scorers' formats and read positions can be checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import safetensors.torch
import torch
import transformers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from surestep.prm.scorers.transformers_prm import reasoneval_class

SPECIAL = [
    "<pad>",
    "<s>",
    "</s>",
    "[UNK]",
    "<extra_0>",
    "<|im_start|>",
    "<|im_end|>",
    "<|begin_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
]
LLAMA3_TEMPLATE = (
    "{{ '<|begin_of_text|>' }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + "
    "'<|end_header_id|>\n\n' + m['content'] + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
CHATML_TEMPLATE = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_WORDS = re.compile(r"\w+|[^\w\s]+")
_PIECES = re.compile(r"\w+|[^\w\s]")
DUMMY_PREFIX = "\u2581"
"""SentencePiece's word-start mark, which Llama's tokenizer puts before the start of every text."""
BASE_WORDS = {
    "+",
    "-",
    "ки",
    "Step",
    "Question",
    "Answer",
    ":",
    "Let",
    "'",
    "s",
    "think",
    "step",
    "by",
    ".",
    "user",
    "assistant",
    "system",
    "Please",
    "reason",
    "and",
    "put",
    "your",
    "final",
    "answer",
    "within",
    "\\",
    "boxed",
    "{}",
    "и",
    "Human",
    "Assistant",
    "#",
    "Solution",
}


def tiny_tokenizer(
    texts: Iterable[str],
    chat_template: str | None = None,
    *,
    blank_line_token: bool = True,
    add_bos: bool = True,
    sentencepiece: bool = False,
    pad_token: str = "<pad>",
) -> transformers.PreTrainedTokenizerFast:
    """A word-level tokenizer over the words of ``texts`` plus each format's marks.

    ``blank_line_token=False`` makes a blank line two '\\n' tokens, as SentencePiece (Llama 2,
    Llemma) tokenizes it. ``sentencepiece=True`` goes further, as Llama's tokenizer does: a
    dummy-prefix token starts every text (so ``encode("\\n\\n")`` is three tokens), line breaks
    are ordinary tokens, and punctuation is one token per character. ``add_bos=False`` adds no
    special tokens on ``encode``, as Qwen's tokenizers. ``pad_token`` names the padding token
    (ReasonEval-7B's indexing needs it to be the BOS).
    """
    words = set(BASE_WORDS)
    for text in texts:
        words.update((_PIECES if sentencepiece else _WORDS).findall(text))
    if sentencepiece:
        words |= {DUMMY_PREFIX, "\n"} | {ch for word in BASE_WORDS for ch in _PIECES.findall(word)}
    vocab = {token: i for i, token in enumerate([*SPECIAL, *sorted(words)])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    if sentencepiece:
        core.normalizer = normalizers.Prepend(DUMMY_PREFIX)
        core.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(r"[ \t]+"), behavior="removed"),
                pre_tokenizers.Split(Regex(r"\w+|\n|[^\w\s]"), behavior="isolated"),
            ]
        )
        core.decoder = decoders.Sequence(
            [decoders.Replace(DUMMY_PREFIX, " "), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
        )
    else:
        core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.add_special_tokens(SPECIAL)
    if not sentencepiece:
        # line breaks are tokens (the whitespace pre-tokenizer would drop them); a blank line is one
        breaks = ["\n\n", "\n"] if blank_line_token else ["\n"]
        core.add_tokens([AddedToken(b, normalized=False) for b in breaks])
    if add_bos:
        core.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token=pad_token, unk_token="[UNK]"
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    return tokenizer


def _config_kwargs(vocab_size: int, context: int) -> dict[str, int]:
    return {
        "vocab_size": vocab_size,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": context,
        "pad_token_id": 0,
    }


QWEN_FAMILIES = frozenset({"qwen-prm", "pure-prm", "skywork-prm"})
"""Families on Qwen2.5, whose tokenizers add no BOS on ``encode``."""


def build(
    family: str,
    directory: Path,
    texts: Iterable[str],
    *,
    context: int = 512,
    seed: int = 0,
    blank_line_token: bool = True,
    sentencepiece: bool = False,
    pad_token: str = "<pad>",
    body: str = "mistral",
) -> Path:
    """Save a tiny model of the family to ``directory`` and its tokenizer to ``directory/tokenizer``.

    ``body`` picks ReasonEval's: ``mistral`` (the 7B) or ``llama`` (the 34B).
    """
    torch.manual_seed(seed)
    template = {"rlhflow-prm": LLAMA3_TEMPLATE, "qwen-prm": CHATML_TEMPLATE}.get(family)
    tokenizer = tiny_tokenizer(
        texts,
        template,
        blank_line_token=blank_line_token,
        add_bos=family not in QWEN_FAMILIES,
        sentencepiece=sentencepiece,
        pad_token=pad_token,
    )
    kwargs = _config_kwargs(len(tokenizer), context)
    if family in ("math-shepherd", "rlhflow-prm"):
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**kwargs))
    elif family in ("qwen-prm", "pure-prm"):
        model = transformers.Qwen2ForTokenClassification(transformers.Qwen2Config(num_labels=2, **kwargs))
    elif family == "llemma-prm":
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**kwargs))
    elif family == "mathminos":
        model = transformers.MistralForTokenClassification(transformers.MistralConfig(num_labels=1, **kwargs))
    elif family == "skywork-prm":
        # as published: a Qwen2 causal LM's weights plus TRL's value head, in one file
        model = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**kwargs))
        model.save_pretrained(directory)
        weights = directory / "model.safetensors"
        tensors = safetensors.torch.load_file(weights)
        tensors["v_head.summary.weight"] = torch.randn(1, kwargs["hidden_size"])
        tensors["v_head.summary.bias"] = torch.randn(1)
        safetensors.torch.save_file(tensors, weights, metadata={"format": "pt"})
        tokenizer.save_pretrained(directory / "tokenizer")
        return directory
    elif family == "reasoneval" and body == "llama":  # ReasonEval-34B names its head's config score_dim
        config = transformers.LlamaConfig(score_dim=3, bias=False, **kwargs)
        model = reasoneval_class(config)(config)
    elif family == "reasoneval":
        config = transformers.MistralConfig(score_dimension=3, use_bias=False, **kwargs)
        model = reasoneval_class(config)(config)
    else:
        raise ValueError(family)
    model.save_pretrained(directory)
    # Beside the model, transformers 5 would rebuild the tokenizer as the architecture's own
    # class (Qwen2's byte-level BPE); kept apart, it loads as the word-level tokenizer it is.
    tokenizer.save_pretrained(directory / "tokenizer")
    return directory
