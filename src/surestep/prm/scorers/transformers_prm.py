"""Discriminative PRM families on transformers: each one's input format and the outputs it is read at.

Every family has two protocols (``surestep.prm.protocol``). ``card`` follows the model card.
``prmbench`` reproduces PRMBench's wrapper for the family (``ssmisya/PRMBench`` at a1ae4ea,
``mr_eval/models/*.py``; the comments cite file and line), quirks included: its step cleaning,
which reads it makes (some past the last step, some one position early) and where it does its
arithmetic. See ``docs/prm-scorers.md`` for the source of every detail.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, Any

from surestep.errors import SurestepError
from surestep.prm.protocol import ProtocolDefaults, prmbench_strip, protocol_defaults
from surestep.prm.scorers.base import SolutionToScore
from surestep.prm.scorers.engine import (
    Encoded,
    HiddenStateScorer,
    LabelTokenScorer,
    TransformersScorer,
    head_model_class,
    strip_step_prefix,
)

if TYPE_CHECKING:
    import torch

__all__ = [
    "TRANSFORMERS_SCORERS",
    "TransformersScorer",
    "reasoneval_class",
    "skywork_class",
    "strip_step_prefix",
]


def _every(ids: list[int], token: int) -> list[int]:
    """Every position of ``token``, in order (PRMBench reads ``input_ids == tag``, however many)."""
    return [i for i, t in enumerate(ids) if t == token]


class MathShepherd(LabelTokenScorer):
    name = "math-shepherd"
    step_tag = "ки"

    def setup(self) -> None:
        if self.prmbench:
            # math_shepherd.py:34-35: encode("+ -")[1:] (the BOS dropped) and encode("ки")[-1]
            labels = self.tokenizer.encode("+ -")[1:]
            self.tag_id = self.tokenizer.encode(self.step_tag)[-1]
            what = "encode('+ -')[1:]"
        else:
            labels = self.tokenizer.encode("+ -", add_special_tokens=False)
            self.tag_id = self.tokenizer.encode(self.step_tag, add_special_tokens=False)[-1]
            what = "'+ -'"
        if len(labels) != 2:
            raise SurestepError(f"{self.name}: {what} should be two tokens ('+', '-'), got {len(labels)}")
        self.good_id, self.bad_id = labels

    def encode(self, item: SolutionToScore) -> Encoded:
        if self.prmbench:
            return self._encode_prmbench(item)
        steps = "".join(
            f"Step {i + 1}: {strip_step_prefix(s)} {self.step_tag}\n" for i, s in enumerate(item.steps)
        )
        ids = self.tokenizer.encode(f"{item.question} {steps}")
        return self.positions_of(ids, self.tag_id, len(item.steps), f"'{self.step_tag}' tags")

    def _encode_prmbench(self, item: SolutionToScore) -> Encoded:
        parts = []
        for i, step in enumerate(item.steps):  # math_shepherd.py:48-54
            text = step.strip()
            if text.startswith(("Step", "step")):
                parts.append(f"{text} {self.step_tag}\n")
            else:
                parts.append(f"Step {i + 1}: {text} {self.step_tag}\n")
        ids = self.tokenizer.encode(f"{item.question} {''.join(parts)}")  # math_shepherd.py:55-56
        return Encoded(ids, _every(ids, self.tag_id))  # math_shepherd.py:88


class QwenPRM(TransformersScorer):
    name = "qwen-prm"
    separator = "<extra_0>"
    # PRMBench's qwen_prm.py:55 writes "\boxed{}" in a plain string, which Python reads as a
    # backspace followed by "oxed{}"; both protocols send the card's "\boxed{}" instead.
    system = "Please reason step by step, and put your final answer within \\boxed{}."

    def load_model(self, path: str) -> Any:
        transformers = self._transformers
        config = transformers.AutoConfig.from_pretrained(path, trust_remote_code=self.trust_remote_code)
        if "AutoModel" in (getattr(config, "auto_map", None) or {}):
            if not self.trust_remote_code:
                raise SurestepError(
                    f"{path} ships its own model code (Qwen2ForProcessRewardModel): pass --trust-remote-code"
                )
            return self.from_pretrained(transformers.AutoModel, path, "Qwen PRM", trust_remote_code=True)
        return self.from_pretrained(transformers.AutoModelForTokenClassification, path, "Qwen PRM")

    def setup(self) -> None:
        if self.prmbench:
            ids = self.tokenizer.encode(self.separator)  # qwen_prm.py:45 takes encode("<extra_0>")[0]
            if len(ids) != 1:
                raise SurestepError(
                    f"{self.name}: PRMBench reads at encode('<extra_0>')[0], which is the separator only "
                    f"when the tokenizer adds no special tokens; here it gives {len(ids)} tokens"
                )
            self.separator_id = int(ids[0])
        else:
            self.separator_id = self.token_id(self.separator)

    def encode(self, item: SolutionToScore) -> Encoded:
        clean = prmbench_strip if self.prmbench else strip_step_prefix
        steps = "".join(clean(s) + self.separator for s in item.steps)  # qwen_prm.py:56-59
        messages = [
            {"role": "system", "content": self.system},
            {"role": "user", "content": item.question},
            {"role": "assistant", "content": steps},
        ]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        if self.prmbench:
            ids = self.tokenizer.encode(text)  # qwen_prm.py:72-75
            return Encoded(ids, _every(ids, self.separator_id))  # qwen_prm.py:102
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return self.positions_of(ids, self.separator_id, len(item.steps), f"'{self.separator}' separators")

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, None]:
        # qwen_prm.py:131-137: softmax over the head's two labels, in the model's dtype, class 1
        return outputs[:, :2].softmax(dim=-1)[:, 1], None


class RLHFlowPRM(LabelTokenScorer):
    name = "rlhflow-prm"
    # llama3_1_8b_prm.py:29-30: [128006, 78191, 128007, 271, 10, 128009] in Llama 3's tokenizer
    pattern_pieces = ("<|start_header_id|>", "assistant", "<|end_header_id|>", "\n\n", "+", "<|eot_id|>")
    read_offset = 3  # llama3_1_8b_prm.py:97

    def setup(self) -> None:
        self.good_id = self.token_id("+")
        self.bad_id = self.token_id("-")
        if self.prmbench:
            self.pattern = [self.token_id(piece) for piece in self.pattern_pieces]

    def encode(self, item: SolutionToScore) -> Encoded:
        if self.prmbench:
            return self._encode_prmbench(item)
        conversation: list[dict[str, str]] = []
        positions = []
        for i, step in enumerate(item.steps):
            text = strip_step_prefix(step)
            conversation.append({"role": "user", "content": f"{item.question} {text}" if i == 0 else text})
            prefix = _ids(
                self.tokenizer.apply_chat_template(conversation, tokenize=True, add_generation_prompt=True)
            )
            positions.append(len(prefix) - 1)
            conversation.append({"role": "assistant", "content": "+"})
        ids = _ids(self.tokenizer.apply_chat_template(conversation, tokenize=True))
        if any(p + 1 >= len(ids) or ids[p + 1] != self.good_id for p in positions):
            return Encoded(ids, [], "the chat template does not place each '+' right after its prompt")
        return Encoded(ids, positions)

    def _encode_prmbench(self, item: SolutionToScore) -> Encoded:
        conversation: list[dict[str, str]] = []
        for i, step in enumerate(item.steps):  # llama3_1_8b_prm.py:57-65
            text = prmbench_strip(step)
            conversation.append({"role": "user", "content": f"{item.question} {text}" if i == 0 else text})
            conversation.append({"role": "assistant", "content": "+"})
        # llama3_1_8b_prm.py:66: the whole conversation, no generation prompt
        ids = _ids(self.tokenizer.apply_chat_template(conversation, tokenize=True))
        size = len(self.pattern)
        starts = [i for i in range(len(ids) - size + 1) if ids[i : i + size] == self.pattern]  # :96
        # a read counts only when its whole pattern survives the cut (the search runs on cut ids)
        return Encoded(ids, [s + self.read_offset for s in starts], keep_until=[s + size - 1 for s in starts])

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, None]:
        if not self.prmbench:
            return super().read_scores(outputs)
        # llama3_1_8b_prm.py:98-99: softmax over the whole vocabulary, p('+')
        head = self.model.get_output_embeddings()
        logits = outputs @ head.weight.T
        if getattr(head, "bias", None) is not None:
            logits = logits + head.bias
        return logits.softmax(dim=-1)[:, self.good_id], None


def _ids(encoded: Any) -> list[int]:
    """apply_chat_template(tokenize=True) returns a list, or a BatchEncoding in newer transformers."""
    if isinstance(encoded, dict) or hasattr(encoded, "input_ids"):
        encoded = encoded["input_ids"]
    return [int(t) for t in encoded]


class ReasonEval(TransformersScorer):
    name = "reasoneval"
    prompt = "Question:\n{question}\nAnswer:\nLet's think step by step.\n"

    def load_model(self, path: str) -> Any:
        config = self._transformers.AutoConfig.from_pretrained(path)
        return self.from_pretrained(reasoneval_class(config), path, "ReasonEval (score_head)")

    def setup(self) -> None:
        if not self.prmbench:
            return
        kind = getattr(self.model.config, "model_type", None)
        if kind not in ("mistral", "llama"):
            raise SurestepError(
                f"{self.name}: PRMBench knows a Mistral (7B) or a Llama (34B) body, not {kind!r}"
            )
        self.seven_b = kind == "mistral"  # reasoneval.py:31-34 and 70-76
        self.separator = f"{self.tokenizer.pad_token}"  # reasoneval.py:51
        self.separator_id = self.tokenizer(self.separator)["input_ids"][-1]  # reasoneval.py:60
        if self.seven_b and self.separator_id != 1:
            raise SurestepError(
                f"{self.name}: PRMBench's 7B indexing (reasoneval.py:70-73) re-inserts token 1 and skips two "
                "separators, which gives one read per step only when the pad token is the BOS (id 1); this "
                f"tokenizer's pad token {self.separator!r} is id {self.separator_id}"
            )

    def encode(self, item: SolutionToScore) -> Encoded:
        if self.prmbench:
            return self._encode_prmbench(item)
        ids = self.tokenizer.encode(self.prompt.format(question=item.question))
        positions = []
        for step in item.steps:
            piece = self.tokenizer.encode(strip_step_prefix(step), add_special_tokens=False)
            if not piece:
                return Encoded(ids, [], "a step has no tokens")
            ids += piece
            positions.append(len(ids) - 1)
        return Encoded(ids, positions)

    def _encode_prmbench(self, item: SolutionToScore) -> Encoded:
        steps = "".join(prmbench_strip(step) + self.separator for step in item.steps)  # reasoneval.py:52-56
        prompt = self.prompt.format(question=item.question)
        tokens = self.tokenizer(prompt + self.separator + steps)["input_ids"]
        reads: list[int] = []
        kept: list[int] = []
        for index, token in enumerate(tokens):  # reasoneval.py:64-69
            if token == self.separator_id:
                reads.append(index - 1 - len(reads))
            else:
                kept.append(token)
        if self.seven_b:  # reasoneval.py:70-73: token 1 in front, the indices left as they were
            kept, reads = [1, *kept], reads[2:]
        else:  # reasoneval.py:74-76
            reads = reads[1:]
        if len(reads) != len(item.steps):  # reasoneval.py:80 asserts this and would stop the run
            return Encoded(
                kept,
                [],
                f"PRMBench's ReasonEval indexing finds {len(reads)} step ends for {len(item.steps)} steps",
            )
        return Encoded(kept, reads)

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = outputs[:, :3].softmax(dim=-1)
        if self.prmbench:  # reasoneval.py:112-115: softmax in bfloat16, then sums of Python floats
            p = p.double()
        return p[:, 1] + p[:, 2], p[:, 1]


def reasoneval_class(config: Any) -> Any:
    """ReasonEval: a Mistral (7B) or Llama (34B) body and a linear ``score_head`` (3 classes)."""
    width = getattr(config, "score_dimension", None) or getattr(config, "score_dim", None) or 3
    bias = bool(getattr(config, "use_bias", getattr(config, "bias", False)))
    return head_model_class(config, "score_head", width, bias=bias)


def skywork_class(config: Any) -> Any:
    """Skywork-o1-Open-PRM: a Qwen2 body and TRL's value head, stored as ``v_head.summary``."""
    return head_model_class(config, "v_head.summary", 1, bias=True)


class SkyworkPRM(HiddenStateScorer):
    name = "skywork-prm"

    def __init__(self, model: str, *, reward_differences: bool = False, **options: Any) -> None:
        self.reward_differences = reward_differences
        super().__init__(model, **options)

    def protocol_defaults(self) -> ProtocolDefaults:
        return protocol_defaults(self.name, self.protocol, reward_differences=self.reward_differences)

    def load_model(self, path: str) -> Any:
        config = self._transformers.AutoConfig.from_pretrained(path)
        return self.from_pretrained(skywork_class(config), path, "Skywork PRM (v_head.summary)")

    def setup(self) -> None:
        if self.prmbench:
            self.step_token = "ки"  # skywork_prm.py:38
            if self.tokenizer.bos_token is None:
                raise SurestepError(
                    f"{self.name}: PRMBench's input starts with the tokenizer's bos_token "
                    "(Skywork's io_utils.py:5), and this tokenizer has none"
                )
            self.step_token_id = self.tokenizer.encode(self.step_token)[-1]  # io_utils.py:9
        else:
            self.step_token = "\n"
            self.step_token_id = self.tokenizer.encode(self.step_token, add_special_tokens=False)[-1]

    def encode(self, item: SolutionToScore) -> Encoded:
        if self.prmbench:
            return self._encode_prmbench(item)
        bos = self.tokenizer.bos_token or ""
        ids = self.tokenizer.encode(f"{bos}{item.question}\n", add_special_tokens=False)
        positions = []
        for step in item.steps:
            ids += self.tokenizer.encode(strip_step_prefix(step), add_special_tokens=False)
            ids.append(self.step_token_id)
            positions.append(len(ids) - 1)
        return Encoded(ids, positions)

    def _encode_prmbench(self, item: SolutionToScore) -> Encoded:
        response = "".join(  # skywork_prm.py:56-61
            f"Step {i + 1}: {prmbench_strip(step).strip()} {self.step_token}\n"
            for i, step in enumerate(item.steps)
        )
        # Skywork's prepare_input (io_utils.py:4-23): the prompt, then every piece of the response
        # split on the step token, each followed by the step token's id and read there; the '\n'
        # after the last step is a piece of its own, hence N+1 reads
        ids = self.tokenizer.encode(self.tokenizer.bos_token + item.question + "\n")
        positions = []
        for piece in response.split(self.step_token):
            ids += self.tokenizer.encode(piece) if piece else []
            ids.append(self.step_token_id)
            positions.append(len(ids) - 1)
        return Encoded(ids, positions)

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, None]:
        head = self.model.head
        return (outputs @ head.weight[0].float() + head.bias[0].float()).sigmoid(), None

    def finish(self, scores: tuple[float, ...], steps: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
        if self.prmbench or self.reward_differences:  # skywork_prm.py:104
            scores = scores[:1] + tuple(b - a for a, b in pairwise(scores))
        return scores[:steps], scores[steps:]


class LlemmaPRM(HiddenStateScorer):
    name = "llemma-prm"
    default_tokenizer = "EleutherAI/llemma_7b"

    def setup(self) -> None:
        if not self.prmbench:
            return
        # llemma7b_prm.py:54-55: the patterns drop their first token, SentencePiece's dummy prefix
        self.scoring = self.tokenizer.encode("\n\n", add_special_tokens=False)[1:]
        self.begin = self.tokenizer.encode("\n\n# Solution", add_special_tokens=False)[1:]
        if not self.scoring or self.tokenizer.decode(self.scoring) != "\n\n":
            raise SurestepError(
                f"{self.name}: PRMBench finds steps by encode('\\n\\n')[1:], which assumes a SentencePiece "
                "tokenizer with a dummy-prefix token (Llama's); in this tokenizer it is "
                f"{self.tokenizer.convert_ids_to_tokens(self.scoring)!r}"
            )

    def encode(self, item: SolutionToScore) -> Encoded:
        if self.prmbench:
            return self._encode_prmbench(item)
        text = f"# Question\n\n{item.question}\n\n# Solution\n\n"
        marks = []
        for step in item.steps:
            text += strip_step_prefix(step).replace("\n\n", "\n")
            marks.append(len(text))
            text += "\n\n"
        return self.positions_at_chars(text, marks)

    def _encode_prmbench(self, item: SolutionToScore) -> Encoded:
        steps = "".join(f"{step.replace(chr(10) * 2, '').strip()}\n\n" for step in item.steps)  # :48-52
        ids = self.tokenizer.encode(f"# Question\n\n{item.question}\n\n# Solution\n\n{steps}")  # :53, 58
        eos = self.tokenizer.eos_token_id
        begun, reads = False, []
        for start in range(len(ids)):  # llemma7b_prm.py:60-71
            if ids[start : start + len(self.begin)] == self.begin:
                begun = True
            if begun and ids[start : start + len(self.scoring)] == self.scoring:
                reads.append(start)
            if ids[start] == eos:
                reads.append(start)
                break
        if not reads:  # llemma7b_prm.py:75 would fail on an empty list
            return Encoded(ids, [], "PRMBench's Llemma reader finds no '\\n\\n' after '# Solution'")
        return Encoded(ids, reads[1:])  # llemma7b_prm.py:75 drops the first (the one before '# Solution')

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, None]:
        # the mean over the vocabulary of a linear layer's outputs is the layer's mean row applied once
        head = self.model.get_output_embeddings()
        mean = outputs.float() @ head.weight.float().mean(dim=0)
        if getattr(head, "bias", None) is not None:
            mean = mean + head.bias.float().mean()
        return mean.sigmoid(), None


class MathMinos(TransformersScorer):
    name = "mathminos"
    step_tag = "и"

    def load_model(self, path: str) -> Any:
        transformers = self._transformers
        return self.from_pretrained(transformers.AutoModelForTokenClassification, path, "MATH-Minos PRM")

    def setup(self) -> None:
        # mathminos_mistral.py:35 takes encode("и")[-1]
        extra = {} if self.prmbench else {"add_special_tokens": False}
        self.tag_id = self.tokenizer.encode(self.step_tag, **extra)[-1]

    def encode(self, item: SolutionToScore) -> Encoded:
        clean = prmbench_strip if self.prmbench else strip_step_prefix
        steps = "".join(  # mathminos_mistral.py:50-55
            f"Step {i + 1}: {clean(s)} {self.step_tag}\n" for i, s in enumerate(item.steps)
        )
        ids = self.tokenizer.encode(f"Human: {item.question}\n\nAssistant:{steps}")
        if self.prmbench:
            return Encoded(ids, _every(ids, self.tag_id))  # mathminos_mistral.py:89
        return self.positions_of(ids, self.tag_id, len(item.steps), f"'{self.step_tag}' tags")

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, None]:
        if self.prmbench:  # mathminos_mistral.py:85,89-98: the raw logit, judged at 0
            return outputs[:, 0], None
        return outputs[:, 0].sigmoid(), None


class PurePRM(TransformersScorer):
    name = "pure-prm"
    separator = "\n\n"

    def load_model(self, path: str) -> Any:
        transformers = self._transformers
        return self.from_pretrained(transformers.AutoModelForTokenClassification, path, "PURE PRM")

    def setup(self) -> None:
        self.separator_id = self.token_id(self.separator)  # pure_prm.py:38-39, and its assert at :87

    def encode(self, item: SolutionToScore) -> Encoded:
        clean = (lambda s: s) if self.prmbench else strip_step_prefix  # pure_prm.py:50-52: raw steps
        ids = self.tokenizer.encode(item.question, add_special_tokens=False)
        positions = []
        for step in item.steps:
            ids += self.tokenizer.encode(clean(step), add_special_tokens=False)
            ids.append(self.separator_id)
            positions.append(len(ids) - 1)
        return Encoded(ids, positions)

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, None]:
        p = outputs[:, :2].softmax(dim=-1)
        if self.prmbench:  # pure_prm.py:112-117: the reward p1 - p0, in the model's dtype
            return p[:, 1] - p[:, 0], None
        return p[:, 1], None


TRANSFORMERS_SCORERS: dict[str, type[TransformersScorer]] = {
    cls.name: cls
    for cls in (MathShepherd, QwenPRM, RLHFlowPRM, ReasonEval, SkyworkPRM, LlemmaPRM, MathMinos, PurePRM)
}
