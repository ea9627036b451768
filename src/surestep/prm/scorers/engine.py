"""The engine every transformers PRM family runs on.

Every family builds token ids and one read position per step; the engine sorts
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
    default_tokenizer: ClassVar[str | None] = None  # where the tokenizer lives when the checkpoint has none

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
            self.tokenizer = self._load_tokenizer(tokenizer or model, fallback=tokenizer is None)
            self.model = self.load_model(model).to(device).eval()
        except (OSError, ValueError) as exc:
            raise SurestepError(f"cannot load {self.name} model {model!r}: {exc}") from None
        context = getattr(self.model.config, "max_position_embeddings", None)
        self.max_length = min(x for x in (max_length, context, 1 << 20) if x)
        self.setup()

    def _load_tokenizer(self, source: str, *, fallback: bool) -> Any:
        try:
            return self._transformers.AutoTokenizer.from_pretrained(source)
        except (OSError, ValueError):
            if not (fallback and self.default_tokenizer):
                raise
            return self._transformers.AutoTokenizer.from_pretrained(self.default_tokenizer)

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

    def finish(self, scores: tuple[float, ...]) -> tuple[float, ...]:
        """Turn one instance's read scores into its step scores (the identity unless a family says)."""
        return scores

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

    def positions_at_chars(self, text: str, marks: Sequence[int]) -> Encoded:
        """Tokenize ``text`` whole and read at the token covering each character offset in ``marks``.

        For formats whose separators merge with neighbouring text in some tokenizers (``\\n\\n``
        in SentencePiece), so that neither a token id search nor piecewise encoding is exact.
        """
        encoding = self.tokenizer(text, return_offsets_mapping=True)
        ids = [int(t) for t in encoding["input_ids"]]
        spans = encoding["offset_mapping"]
        positions = []
        for mark in marks:
            covering = next((i for i, (a, b) in enumerate(spans) if a <= mark < b), None)
            if covering is None:
                return Encoded(ids, [], f"no token covers character {mark}")
            positions.append(covering)
        return Encoded(ids, positions)

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
                        self.finish(tuple(validity_list[start : start + n])),
                        None if redundancy_list is None else tuple(redundancy_list[start : start + n]),
                        truncated_steps=steps - n,
                    )
                    start += n
        return [r for r in results if r is not None]


class HiddenStateScorer(TransformersScorer):
    """Families whose head is cheap to apply only where it is read: the forward pass stops at the
    body's last hidden states, and ``read_scores`` applies the head to the read positions alone."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        body = self.model.base_model
        return body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # type: ignore[no-any-return]


class LabelTokenScorer(HiddenStateScorer):
    """Causal LMs read as PRMs: p(good) from the softmax over two label tokens' logits.

    Only the read positions' hidden states go through the output layer, and only for the two
    label tokens: the full-vocabulary logits of every position are never built.
    """

    good_id: int
    bad_id: int

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, None]:
        head = self.model.get_output_embeddings()
        rows = [self.good_id, self.bad_id]
        logits = outputs @ head.weight[rows].float().T
        if getattr(head, "bias", None) is not None:
            logits = logits + head.bias[rows].float()
        return logits.softmax(dim=-1)[:, 0], None




def head_model_class(config: Any, head: str, width: int, *, bias: bool) -> Any:
    """A transformers body (``model.*``) with a linear head at the dotted path ``head``.

    Rebuilds checkpoints published with their own modelling code (ReasonEval's ``score_head``,
    Skywork's TRL-style ``v_head.summary``) so they load without ``trust_remote_code``; the
    language-model head those checkpoints also carry is left unloaded. Built on demand so that
    importing this module needs no torch.
    """
    import torch
    import transformers

    *parents, leaf = head.split(".")

    class HeadModel(transformers.PreTrainedModel):  # type: ignore[no-untyped-call]
        config_class = type(config)
        base_model_prefix = "model"
        _keys_to_ignore_on_load_missing = ["lm_head.weight"]  # noqa: RUF012 (transformers' own attribute)
        _keys_to_ignore_on_load_unexpected = [r"lm_head\."]  # noqa: RUF012

        def __init__(self, cfg: Any) -> None:
            super().__init__(cfg)
            self.model = transformers.AutoModel.from_config(cfg)  # type: ignore[no-untyped-call]
            owner: torch.nn.Module = self
            for name in parents:
                child = torch.nn.Module()
                owner.add_module(name, child)
                owner = child
            owner.add_module(leaf, torch.nn.Linear(cfg.hidden_size, width, bias=bias))
            self.post_init()  # type: ignore[no-untyped-call]

        @property
        def head(self) -> torch.nn.Linear:
            return self.get_submodule(head)  # type: ignore[return-value]

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return self.head(hidden)

    return HeadModel
