"""Discriminative PRM families on transformers: each one's input format and the outputs it is read at.

The formats were checked against each model card and the PRMBench evaluation code; see
``docs/prm-scorers.md`` for the source of every detail.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, Any

from surestep.errors import SurestepError
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


class MathShepherd(LabelTokenScorer):
    name = "math-shepherd"
    models = ("peiyi9979/math-shepherd-mistral-7b-prm",)
    description = (
        "'{question} Step 1: ... ки\\nStep 2: ... ки\\n'; p('+') from the softmax over the '+'/'-' "
        "logits at each 'ки'"
    )
    step_tag = "ки"

    def setup(self) -> None:
        self.tag_id = self.tokenizer.encode(self.step_tag, add_special_tokens=False)[-1]
        labels = self.tokenizer.encode("+ -", add_special_tokens=False)
        if len(labels) != 2:
            raise SurestepError(f"{self.name}: '+ -' should be two tokens, got {len(labels)}")
        self.good_id, self.bad_id = labels

    def encode(self, item: SolutionToScore) -> Encoded:
        steps = "".join(
            f"Step {i + 1}: {strip_step_prefix(s)} {self.step_tag}\n" for i, s in enumerate(item.steps)
        )
        ids = self.tokenizer.encode(f"{item.question} {steps}")
        return self.positions_of(ids, self.tag_id, len(item.steps), f"'{self.step_tag}' tags")


class QwenPRM(TransformersScorer):
    name = "qwen-prm"
    models = ("Qwen/Qwen2.5-Math-PRM-7B", "Qwen/Qwen2.5-Math-PRM-72B")
    description = (
        "chat template (system, user question, assistant steps each followed by '<extra_0>'); "
        "positive-class probability of the 2-way head at each '<extra_0>'"
    )
    separator = "<extra_0>"
    system = "Please reason step by step, and put your final answer within \\boxed{}."

    def load_model(self, path: str) -> Any:
        transformers = self._transformers
        config = transformers.AutoConfig.from_pretrained(path, trust_remote_code=self.trust_remote_code)
        if "AutoModel" in (getattr(config, "auto_map", None) or {}):
            if not self.trust_remote_code:
                raise SurestepError(
                    f"{path} ships its own model code (Qwen2ForProcessRewardModel): pass --trust-remote-code"
                )
            return transformers.AutoModel.from_pretrained(path, **self.dtype_kwargs, trust_remote_code=True)
        return transformers.AutoModelForTokenClassification.from_pretrained(path, **self.dtype_kwargs)

    def setup(self) -> None:
        self.separator_id = self.token_id(self.separator)

    def encode(self, item: SolutionToScore) -> Encoded:
        steps = "".join(strip_step_prefix(s) + self.separator for s in item.steps)
        messages = [
            {"role": "system", "content": self.system},
            {"role": "user", "content": item.question},
            {"role": "assistant", "content": steps},
        ]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return self.positions_of(ids, self.separator_id, len(item.steps), f"'{self.separator}' separators")

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, None]:
        return outputs[:, :2].softmax(dim=-1)[:, 1], None


class RLHFlowPRM(LabelTokenScorer):
    name = "rlhflow-prm"
    models = ("RLHFlow/Llama3.1-8B-PRM-Mistral-Data", "RLHFlow/Llama3.1-8B-PRM-Deepseek-Data")
    description = (
        "chat turns: user 'question step 1', assistant '+', user 'step 2', assistant '+', ...; "
        "p('+') from the softmax over '+'/'-' at the position that predicts each assistant reply"
    )

    def setup(self) -> None:
        self.good_id = self.token_id("+")
        self.bad_id = self.token_id("-")

    def encode(self, item: SolutionToScore) -> Encoded:
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


def _ids(encoded: Any) -> list[int]:
    """apply_chat_template(tokenize=True) returns a list, or a BatchEncoding in newer transformers."""
    if isinstance(encoded, dict) or hasattr(encoded, "input_ids"):
        encoded = encoded["input_ids"]
    return [int(t) for t in encoded]


class ReasonEval(TransformersScorer):
    name = "reasoneval"
    models = ("GAIR/ReasonEval-7B", "GAIR/ReasonEval-34B")
    description = (
        "'Question:\\n{question}\\nAnswer:\\nLet\\'s think step by step.\\n' then the steps; 3-way head "
        "(negative, neutral, positive) at each step's last token: validity = p(neutral) + p(positive), "
        "redundancy = p(neutral)"
    )
    prompt = "Question:\n{question}\nAnswer:\nLet's think step by step.\n"

    def load_model(self, path: str) -> Any:
        config = self._transformers.AutoConfig.from_pretrained(path)
        return reasoneval_class(config).from_pretrained(path, **self.dtype_kwargs)

    def encode(self, item: SolutionToScore) -> Encoded:
        ids = self.tokenizer.encode(self.prompt.format(question=item.question))
        positions = []
        for step in item.steps:
            piece = self.tokenizer.encode(strip_step_prefix(step), add_special_tokens=False)
            if not piece:
                return Encoded(ids, [], "a step has no tokens")
            ids += piece
            positions.append(len(ids) - 1)
        return Encoded(ids, positions)

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = outputs[:, :3].softmax(dim=-1)
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
    models = ("Skywork/Skywork-o1-Open-PRM-Qwen-2.5-1.5B", "Skywork/Skywork-o1-Open-PRM-Qwen-2.5-7B")
    description = (
        "'{bos}{question}\\n' then each step followed by '\\n'; sigmoid of the value head at each "
        "step's '\\n' (--reward-differences: first reward, then differences of consecutive rewards)"
    )
    step_token = "\n"

    def __init__(self, model: str, *, reward_differences: bool = False, **options: Any) -> None:
        self.reward_differences = reward_differences
        super().__init__(model, **options)

    def load_model(self, path: str) -> Any:
        config = self._transformers.AutoConfig.from_pretrained(path)
        return skywork_class(config).from_pretrained(path, **self.dtype_kwargs)

    def setup(self) -> None:
        self.step_token_id = self.tokenizer.encode(self.step_token, add_special_tokens=False)[-1]

    def encode(self, item: SolutionToScore) -> Encoded:
        bos = self.tokenizer.bos_token or ""
        ids = self.tokenizer.encode(f"{bos}{item.question}\n", add_special_tokens=False)
        positions = []
        for step in item.steps:
            ids += self.tokenizer.encode(strip_step_prefix(step), add_special_tokens=False)
            ids.append(self.step_token_id)
            positions.append(len(ids) - 1)
        return Encoded(ids, positions)

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, None]:
        head = self.model.head
        return (outputs @ head.weight[0].float() + head.bias[0].float()).sigmoid(), None

    def finish(self, scores: tuple[float, ...]) -> tuple[float, ...]:
        if not self.reward_differences:
            return scores
        return scores[:1] + tuple(b - a for a, b in pairwise(scores))


class LlemmaPRM(HiddenStateScorer):
    name = "llemma-prm"
    models = (
        "ScalableMath/llemma-7b-prm-prm800k-level-1to3-hf",
        "ScalableMath/llemma-7b-prm-metamath-level-1to3-hf",
    )
    description = (
        "'# Question\\n\\n{question}\\n\\n# Solution\\n\\n' then each step followed by '\\n\\n'; "
        "sigmoid of the mean of the vocabulary logits at the first token of each step's '\\n\\n' "
        "(tokenizer: EleutherAI/llemma_7b)"
    )
    default_tokenizer = "EleutherAI/llemma_7b"

    def encode(self, item: SolutionToScore) -> Encoded:
        text = f"# Question\n\n{item.question}\n\n# Solution\n\n"
        marks = []
        for step in item.steps:
            text += strip_step_prefix(step).replace("\n\n", "\n")
            marks.append(len(text))
            text += "\n\n"
        return self.positions_at_chars(text, marks)

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, None]:
        # the mean over the vocabulary of a linear layer's outputs is the layer's mean row applied once
        head = self.model.get_output_embeddings()
        mean = outputs @ head.weight.float().mean(dim=0)
        if getattr(head, "bias", None) is not None:
            mean = mean + head.bias.float().mean()
        return mean.sigmoid(), None


class MathMinos(TransformersScorer):
    name = "mathminos"
    models = ("MATH-Minos Mistral-7B PRM (KbsdJames/MATH-Minos; trained locally, no Hub checkpoint)",)
    description = (
        "'Human: {question}\\n\\nAssistant:' then 'Step i: {step} и\\n' per step; token-classification "
        "head with one output, read at each 'и' as sigmoid(logit) (logit > 0 is a correct step)"
    )
    step_tag = "и"

    def load_model(self, path: str) -> Any:
        return self._transformers.AutoModelForTokenClassification.from_pretrained(path, **self.dtype_kwargs)

    def setup(self) -> None:
        self.tag_id = self.tokenizer.encode(self.step_tag, add_special_tokens=False)[-1]

    def encode(self, item: SolutionToScore) -> Encoded:
        steps = "".join(
            f"Step {i + 1}: {strip_step_prefix(s)} {self.step_tag}\n" for i, s in enumerate(item.steps)
        )
        ids = self.tokenizer.encode(f"Human: {item.question}\n\nAssistant:{steps}")
        return self.positions_of(ids, self.tag_id, len(item.steps), f"'{self.step_tag}' tags")

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, None]:
        return outputs[:, 0].sigmoid(), None


class PurePRM(TransformersScorer):
    name = "pure-prm"
    models = ("jinachris/PURE-PRM-7B",)
    description = (
        "question tokens, then each step's tokens followed by the '\\n\\n' token; 2-way token "
        "classification at each '\\n\\n': p(positive) = (reward + 1) / 2 for the card's "
        "reward p(positive) - p(negative)"
    )
    separator = "\n\n"

    def load_model(self, path: str) -> Any:
        return self._transformers.AutoModelForTokenClassification.from_pretrained(path, **self.dtype_kwargs)

    def setup(self) -> None:
        self.separator_id = self.token_id(self.separator)

    def encode(self, item: SolutionToScore) -> Encoded:
        ids = self.tokenizer.encode(item.question, add_special_tokens=False)
        positions = []
        for step in item.steps:
            ids += self.tokenizer.encode(strip_step_prefix(step), add_special_tokens=False)
            ids.append(self.separator_id)
            positions.append(len(ids) - 1)
        return Encoded(ids, positions)

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, None]:
        return outputs[:, :2].softmax(dim=-1)[:, 1], None


TRANSFORMERS_SCORERS: dict[str, type[TransformersScorer]] = {
    cls.name: cls
    for cls in (MathShepherd, QwenPRM, RLHFlowPRM, ReasonEval, SkyworkPRM, LlemmaPRM, MathMinos, PurePRM)
}
