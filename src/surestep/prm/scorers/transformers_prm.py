"""Discriminative PRMs on transformers: each family's input format and the outputs it is read at.

Every family builds token ids and one read position per step; the shared engine sorts
instances into length buckets under a ``batch_tokens`` budget, right-pads (causal attention
keeps real tokens blind to the padding, so a batch scores exactly as its items alone), runs
one forward pass per batch, and gathers the outputs at the read positions. Inputs longer than
the context are cut; steps whose read position falls past the cut are counted per instance as
``truncated_steps``. torch and transformers are imported when a scorer is built.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from surestep.errors import SurestepError
from surestep.prm.scorers.base import SolutionToScore, StepScores, length_buckets

if TYPE_CHECKING:
    import torch

_STEP_PREFIX = re.compile(r"^\s*(?:step\s*\d+\s*[:.]|\d+\s*[.)](?!\d))\s*", re.IGNORECASE)


def strip_step_prefix(step: str) -> str:
    """'3. Solve x' / 'Step 3: Solve x' -> 'Solve x' (PRMBench's full release numbers its steps)."""
    return _STEP_PREFIX.sub("", step, count=1).strip()


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:2])


@dataclass(frozen=True)
class Encoded:
    """Token ids of one instance and, per step, the position whose output scores it."""

    input_ids: list[int]
    read_positions: list[int]
    error: str | None = None


class TransformersScorer:
    """Shared engine; families override ``load_model``, ``encode`` and ``read_scores``."""

    name: ClassVar[str] = ""
    models: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        batch_tokens: int = 16384,
        max_length: int | None = None,
        trust_remote_code: bool = False,
        tokenizer: str | None = None,
    ) -> None:
        try:
            import torch
            import transformers
        except ImportError:
            raise SurestepError(
                f"the {self.name} scorer needs torch and transformers: pip install 'surestep[prm]'"
            ) from None
        self._torch = torch
        self._transformers = transformers
        self.device = device
        self.batch_tokens = batch_tokens
        self.trust_remote_code = trust_remote_code
        self.dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        # transformers renamed torch_dtype to dtype in 4.56
        dtype_name = "dtype" if _version(transformers.__version__) >= (4, 56) else "torch_dtype"
        self.dtype_kwargs = {dtype_name: self.dtype}
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer or model)
            self.model = self.load_model(model).to(device).eval()
        except (OSError, ValueError) as exc:
            raise SurestepError(f"cannot load {self.name} model {model!r}: {exc}") from None
        context = getattr(self.model.config, "max_position_embeddings", None)
        self.max_length = min(x for x in (max_length, context, 1 << 20) if x)
        self.setup()

    # --- what a family defines -------------------------------------------------------------
    def load_model(self, path: str) -> Any:
        return self._transformers.AutoModelForCausalLM.from_pretrained(path, **self.dtype_kwargs)

    def setup(self) -> None:
        """Look up the token ids the family needs (after the tokenizer is loaded)."""

    def encode(self, item: SolutionToScore) -> Encoded:
        raise NotImplementedError

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(positions, D) outputs at the read positions -> validity (and redundancy) scores."""
        raise NotImplementedError

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return out if isinstance(out, self._torch.Tensor) else out.logits

    # --- shared helpers --------------------------------------------------------------------
    def token_id(self, text: str) -> int:
        """The id of a piece of text that must be exactly one token in this tokenizer."""
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise SurestepError(f"{self.name}: {text!r} is {len(ids)} tokens in this tokenizer, expected 1")
        return int(ids[0])

    def positions_of(self, input_ids: list[int], token: int, steps: int, what: str) -> Encoded:
        positions = [i for i, t in enumerate(input_ids) if t == token]
        if len(positions) != steps:
            return Encoded(input_ids, [], f"found {len(positions)} {what} for {steps} steps")
        return Encoded(input_ids, positions)

    # --- the engine ------------------------------------------------------------------------
    def score(self, items: Sequence[SolutionToScore]) -> list[StepScores]:
        torch = self._torch
        encoded = [self.encode(item) for item in items]
        results: list[StepScores | None] = [None] * len(items)
        usable: list[int] = []
        for i, (item, enc) in enumerate(zip(items, encoded)):
            if enc.error is not None:
                results[i] = StepScores(item.id, (), valid=False, error=enc.error)
            else:
                usable.append(i)
        lengths = [min(len(encoded[i].input_ids), self.max_length) for i in usable]
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        with torch.inference_mode():
            for bucket in length_buckets(lengths, self.batch_tokens):
                members = [usable[b] for b in bucket]
                width = max(lengths[b] for b in bucket)
                ids = torch.full((len(members), width), pad, dtype=torch.long)
                mask = torch.zeros((len(members), width), dtype=torch.long)
                rows, cols, kept_counts = [], [], []
                for row, index in enumerate(members):
                    seq = encoded[index].input_ids[: self.max_length]
                    ids[row, : len(seq)] = torch.tensor(seq)
                    mask[row, : len(seq)] = 1
                    kept = [p for p in encoded[index].read_positions if p < len(seq)]
                    rows += [row] * len(kept)
                    cols += kept
                    kept_counts.append(len(kept))
                outputs = self.forward(ids.to(self.device), mask.to(self.device))
                picked = outputs[torch.tensor(rows), torch.tensor(cols)].float()
                validity, redundancy = self.read_scores(picked)
                validity_list = validity.cpu().tolist()
                redundancy_list = None if redundancy is None else redundancy.cpu().tolist()
                start = 0
                for index, n in zip(members, kept_counts):
                    steps = len(items[index].steps)
                    results[index] = StepScores(
                        items[index].id,
                        tuple(validity_list[start : start + n]),
                        None if redundancy_list is None else tuple(redundancy_list[start : start + n]),
                        truncated_steps=steps - n,
                    )
                    start += n
        return [r for r in results if r is not None]


class LabelTokenScorer(TransformersScorer):
    """Causal LMs read as PRMs: p(good) from the softmax over two label tokens' logits.

    Only the read positions' hidden states go through the output layer, and only for the two
    label tokens: the full-vocabulary logits of every position are never built.
    """

    good_id: int
    bad_id: int

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        body = self.model.base_model
        return body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # type: ignore[no-any-return]

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, None]:
        head = self.model.get_output_embeddings()
        rows = [self.good_id, self.bad_id]
        logits = outputs @ head.weight[rows].float().T
        if getattr(head, "bias", None) is not None:
            logits = logits + head.bias[rows].float()
        return logits.softmax(dim=-1)[:, 0], None


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
    """ReasonEval's architecture: a Mistral (7B) or Llama (34B) body and a linear score head.

    Built on demand so that importing this module needs no torch; the weight names
    (``model.*``, ``score_head.*``) are those of the published checkpoints.
    """
    import torch
    import transformers

    body_class = transformers.LlamaModel if config.model_type == "llama" else transformers.MistralModel
    width = getattr(config, "score_dimension", None) or getattr(config, "score_dim", None) or 3
    bias = bool(getattr(config, "use_bias", getattr(config, "bias", False)))

    class ReasonEvalModel(transformers.PreTrainedModel):  # type: ignore[no-untyped-call]
        config_class = type(config)
        base_model_prefix = "model"
        _keys_to_ignore_on_load_missing = ["lm_head.weight"]  # noqa: RUF012 (transformers' own attribute)

        def __init__(self, cfg: Any) -> None:
            super().__init__(cfg)
            self.model = body_class(cfg)
            self.score_head = torch.nn.Linear(cfg.hidden_size, width, bias=bias)
            self.post_init()  # type: ignore[no-untyped-call]

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return self.score_head(hidden)

    return ReasonEvalModel


TRANSFORMERS_SCORERS: dict[str, type[TransformersScorer]] = {
    cls.name: cls for cls in (MathShepherd, QwenPRM, RLHFlowPRM, ReasonEval)
}
