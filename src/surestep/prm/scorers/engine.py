"""The engine every transformers PRM family runs on.

Every family builds token ids and the positions its outputs are read at, under a protocol
(``surestep.prm.protocol``: ``prmbench`` reproduces PRMBench's wrappers, ``card`` follows the
model card), which also fixes the dtype and where inputs are cut. The engine sorts instances
into length buckets under a ``batch_tokens`` budget, right-pads (causal attention keeps real
tokens blind to the padding, so a batch scores exactly as its items alone), runs one forward
pass per batch, and gathers the outputs at the read positions. Reads whose position falls past
the cut are dropped and counted per instance as ``truncated_steps``. Reads beyond the
solution's last step (PRMBench's wrappers make some) are kept as ``extra_scores``, which
PRMBench's evaluator counts as further steps. torch and transformers are imported when a scorer
is built.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from surestep.errors import SurestepError
from surestep.prm.protocol import DEFAULT_PROTOCOL, PRMBENCH, ProtocolDefaults, protocol_defaults
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
    """Token ids of one instance and, in order, the positions whose outputs score it.

    ``keep_until`` (one per read, default the read itself) is the last position a read needs
    to survive the cut: PRMBench finds some reads by a token pattern that must fit whole.
    """

    input_ids: list[int]
    read_positions: list[int]
    error: str | None = None
    keep_until: list[int] | None = None

    def kept_reads(self, length: int) -> int:
        """How many reads survive when the input is cut to ``length`` tokens (reads are in order)."""
        needs = self.read_positions if self.keep_until is None else self.keep_until
        return sum(1 for need in needs if need < length)


class TransformersScorer:
    """Shared engine; families override ``load_model``, ``encode`` and ``read_scores``."""

    name: ClassVar[str] = ""
    models: ClassVar[tuple[str, ...]] = ()
    formats: ClassVar[Mapping[str, str]] = {}
    """Per protocol, the input a family builds and where it reads, in words."""
    default_tokenizer: ClassVar[str | None] = None  # where the tokenizer lives when the checkpoint has none

    def __init__(
        self,
        model: str,
        *,
        protocol: str = DEFAULT_PROTOCOL,
        device: str = "cpu",
        batch_tokens: int = 16384,
        max_length: int | None = None,
        trust_remote_code: bool = False,
        tokenizer: str | None = None,
        device_map: str | None = None,
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
        self.protocol = protocol
        self.defaults = self.protocol_defaults()
        self.device_map = device_map
        if device_map is not None:
            _require_accelerate()
        self.batch_tokens = batch_tokens
        self.trust_remote_code = trust_remote_code
        on_gpu = torch.cuda.is_available() if device_map is not None else device.startswith("cuda")
        self.dtype = _torch_dtype(torch, self.defaults, "cuda" if on_gpu else "cpu")
        # transformers renamed torch_dtype to dtype in 4.56
        dtype_name = "dtype" if _version(transformers.__version__) >= (4, 56) else "torch_dtype"
        self.dtype_kwargs = {dtype_name: self.dtype}
        self.device = device
        try:
            self.tokenizer = self._load_tokenizer(tokenizer or model, fallback=tokenizer is None)
            loaded = self.load_model(model)
            self.model = (loaded if device_map is not None else loaded.to(device)).eval()
        except (OSError, ValueError) as exc:
            raise SurestepError(f"cannot load {self.name} model {model!r}: {exc}") from None
        self.read_device = None  # under a device map: where the head is, for the reads
        if device_map is not None:  # inputs go to the first layer's device
            self.device = _weight_device(self.model.get_input_embeddings(), device)
            self.read_device = _weight_device(_read_head(self.model), None)
        context = getattr(self.model.config, "max_position_embeddings", None)
        cut = max_length or self.defaults.truncation.value
        self.max_length = min(x for x in (cut if isinstance(cut, int) else None, context, 1 << 20) if x)
        self.setup()

    def protocol_defaults(self) -> ProtocolDefaults:
        """What the protocol implies for this family (dtype, cut, thresholds)."""
        return protocol_defaults(self.name, self.protocol)

    @property
    def prmbench(self) -> bool:
        """Whether inputs and reads reproduce PRMBench's wrapper for this family."""
        return self.protocol == PRMBENCH

    def _load_tokenizer(self, source: str, *, fallback: bool) -> Any:
        try:
            return self._transformers.AutoTokenizer.from_pretrained(source)
        except (OSError, ValueError):
            if not (fallback and self.default_tokenizer):
                raise
            return self._transformers.AutoTokenizer.from_pretrained(self.default_tokenizer)

    # --- what a family defines -------------------------------------------------------------
    def load_model(self, path: str) -> Any:
        return self.from_pretrained(self._transformers.AutoModelForCausalLM, path, f"{self.name} causal LM")

    def setup(self) -> None:
        """Look up the token ids the family needs (after the tokenizer is loaded)."""

    def encode(self, item: SolutionToScore) -> Encoded:
        raise NotImplementedError

    def read_scores(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(positions, D) outputs at the read positions -> validity (and redundancy) scores.

        Under ``card`` the outputs arrive in float32; under ``prmbench`` in the model's own dtype,
        so that a family can do its arithmetic where PRMBench's wrapper does it.
        """
        raise NotImplementedError

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return out if isinstance(out, self._torch.Tensor) else out.logits

    def finish(self, scores: tuple[float, ...], steps: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """One instance's read scores -> (its step scores, the reads past its last step).

        Reads are assigned to steps in order, as PRMBench's evaluator assigns its labels.
        """
        return scores[:steps], scores[steps:]

    def from_pretrained(self, cls: Any, path: str, what: str, **kwargs: Any) -> Any:
        """``cls.from_pretrained`` that refuses a checkpoint lacking weights the model needs.

        transformers only warns and initialises missing weights at random (a ReasonEval
        ``score_head`` or a Skywork ``v_head`` among them); that would score with noise.
        """
        if self.device_map is not None:  # accelerate places the layers over every visible GPU (and the CPU)
            kwargs["device_map"] = self.device_map
        model, info = cls.from_pretrained(path, output_loading_info=True, **self.dtype_kwargs, **kwargs)
        missing = sorted(info.get("missing_keys") or ())
        mismatched = sorted(
            str(entry[0] if isinstance(entry, tuple) else entry)
            for entry in info.get("mismatched_keys") or ()
        )
        if missing or mismatched:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if mismatched:
                parts.append(f"of the wrong shape {', '.join(mismatched)}")
            raise SurestepError(
                f"{path} is not a {what} checkpoint: weights {'; '.join(parts)} "
                "(transformers would initialise them at random)"
            )
        return model

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
                    kept = encoded[index].read_positions[: encoded[index].kept_reads(len(seq))]
                    rows += [row] * len(kept)
                    cols += kept
                    kept_counts.append(len(kept))
                outputs = self.forward(ids.to(self.device), mask.to(self.device))
                picked = outputs[torch.tensor(rows), torch.tensor(cols)]
                if self.read_device is not None:  # under a device map the head may be on another device
                    picked = picked.to(self.read_device)
                validity, redundancy = self.read_scores(picked if self.prmbench else picked.float())
                validity_list = validity.cpu().tolist()
                redundancy_list = None if redundancy is None else redundancy.cpu().tolist()
                start = 0
                for index, n in zip(members, kept_counts):
                    steps = len(items[index].steps)
                    step_scores, extra = self.finish(tuple(validity_list[start : start + n]), steps)
                    step_redundancy, extra_redundancy = (
                        (None, ())
                        if redundancy_list is None
                        else (
                            tuple(redundancy_list[start : start + n][:steps]),
                            tuple(redundancy_list[start : start + n][steps:]),
                        )
                    )
                    results[index] = StepScores(
                        items[index].id,
                        step_scores,
                        step_redundancy,
                        truncated_steps=steps - len(step_scores),
                        extra_scores=extra,
                        extra_redundancy_scores=extra_redundancy,
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


def _require_accelerate() -> None:
    """A device map is accelerate's work; it is optional (extras ``local`` and ``prm`` bring it)."""
    import importlib.util

    if importlib.util.find_spec("accelerate") is None:
        raise SurestepError(
            "--device-map needs the accelerate package, which places a model's layers over several "
            "devices: pip install 'accelerate>=1.0' (or surestep[prm])"
        )


def _weight_device(module: Any, default: Any) -> Any:
    weight = getattr(module, "weight", None)
    return default if weight is None else weight.device


def _read_head(model: Any) -> Any:
    """The layer ``read_scores`` applies: the output embeddings, or a rebuilt checkpoint's ``head``."""
    head = model.get_output_embeddings()
    return head if head is not None else getattr(model, "head", None)


def _torch_dtype(torch: Any, defaults: ProtocolDefaults, device: str) -> Any:
    """The protocol's dtype; ``auto`` is bfloat16 on a GPU and float32 on the CPU."""
    name = defaults.dtype.value
    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[str(name)]


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
