"""Any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, hosted APIs) over httpx2.

httpx2 is the maintained fork of httpx that the openai client itself runs on; plain
``httpx.AsyncClient`` stalls at high concurrency (encode/httpx#3215), and the openai
client's request validation costs about as much CPU as the HTTP exchange, so requests
are built and parsed here.

Requests are async with a bounded number in flight; 429, 5xx, timeouts, dropped
connections and malformed replies are retried with exponential backoff and full jitter,
honouring ``Retry-After``. Several draws come from one request through the ``n``
parameter when the server honours it; a server that refuses ``n`` (or returns fewer
choices) is remembered and asked one draw per request from then on. The API key is read
from an environment variable and never appears in an error message.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
from typing import Any

import httpx2 as httpx

from surestep.models.base import Completion, GenerationError, GenerationRequest

RETRY_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524}
MAX_BACKOFF_SECONDS = 30.0


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number of seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _RetryableError(Exception):
    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.wait = wait


class _MultiDrawRefusedError(Exception):
    """The server rejected a multi-draw request (it does not accept ``n``)."""


class OpenAIBackend:
    """Chat or completion endpoint of an OpenAI-compatible server."""

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key_env: str = "OPENAI_API_KEY",
        endpoint: str = "chat",
        concurrency: int = 32,
        timeout: float = 600.0,
        max_retries: int = 8,
        draws_per_request: int = 8,
        backoff_base: float = 0.5,
    ) -> None:
        if endpoint not in ("chat", "completion"):
            raise ValueError("endpoint must be 'chat' or 'completion'")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.endpoint = endpoint
        self.max_concurrency = concurrency
        self.max_draws_per_request = max(1, draws_per_request)
        self._api_key = os.environ.get(api_key_env, "")
        self._api_key_env = api_key_env
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._semaphore = asyncio.Semaphore(concurrency)
        self._multi_draw = self.max_draws_per_request > 1
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self.retries = 0

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "endpoint": self.endpoint}

    async def aclose(self) -> None:
        await self._client.aclose()

    async def generate(self, request: GenerationRequest) -> list[Completion]:
        if request.count == 1:
            return await self._request(request, 1)
        if self._multi_draw:
            try:
                return await self._request(request, request.count)
            except _MultiDrawRefusedError:
                self._multi_draw = False
        single = [GenerationRequest(request.messages, request.params, (seed,)) for seed in request.seeds]
        results = await asyncio.gather(*(self._request(r, 1) for r in single))
        return [completion for result in results for completion in result]

    def _body(self, request: GenerationRequest, count: int) -> tuple[str, dict[str, Any]]:
        params = request.params
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "seed": request.seeds[0],
        }
        if count > 1:
            body["n"] = count
        if params.top_k is not None:
            body["top_k"] = params.top_k
        if params.stop:
            body["stop"] = list(params.stop)
        if self.endpoint == "chat":
            body["messages"] = [{"role": role, "content": content} for role, content in request.messages]
            return "/chat/completions", body
        body["prompt"] = "\n\n".join(content for _, content in request.messages)
        return "/completions", body

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]") if self._api_key else text

    async def _request(self, request: GenerationRequest, count: int) -> list[Completion]:
        path, body = self._body(request, count)
        last_reason = ""
        for attempt in range(self._max_retries + 1):
            if attempt:
                self.retries += 1
            try:
                async with self._semaphore:
                    started = time.perf_counter()
                    response = await self._client.post(path, json=body)
                    latency = time.perf_counter() - started
                return self._parse(response, count, latency)
            except _RetryableError as exc:
                last_reason, wait = str(exc), exc.wait
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last_reason, wait = f"{type(exc).__name__}", None
            if attempt == self._max_retries:
                break
            backoff = random.uniform(0, min(MAX_BACKOFF_SECONDS, self._backoff_base * 2**attempt))
            await asyncio.sleep(max(wait or 0.0, backoff))
        raise GenerationError(
            self._redact(
                f"{self.base_url}{path}: gave up after {self._max_retries + 1} attempts: {last_reason}"
            )
        )

    def _parse(self, response: httpx.Response, count: int, latency: float) -> list[Completion]:
        status = response.status_code
        if status in RETRY_STATUSES:
            raise _RetryableError(f"HTTP {status}", retry_after_seconds(response.headers.get("retry-after")))
        if status >= 400:
            detail = self._redact(response.text[:300])
            if count > 1 and status in (400, 422):
                raise _MultiDrawRefusedError(detail)
            if status in (401, 403):
                raise GenerationError(f"HTTP {status} from {self.base_url}: check ${self._api_key_env}")
            raise GenerationError(f"HTTP {status} from {self.base_url}: {detail}")
        try:
            data = response.json()
            choices = sorted(data["choices"], key=lambda c: c.get("index", 0))
            texts = [c["message"]["content"] if self.endpoint == "chat" else c["text"] for c in choices]
            if not all(isinstance(t, str) for t in texts):
                raise TypeError("choice text is not a string")
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise _RetryableError(f"malformed reply ({type(exc).__name__})") from None
        if len(texts) != count:
            if count > 1:
                raise _MultiDrawRefusedError(f"asked for {count} choices, got {len(texts)}")
            raise _RetryableError(f"expected 1 choice, got {len(texts)}")
        usage = data.get("usage") or {}
        prompt_tokens = _share(usage.get("prompt_tokens"), count)
        completion_tokens = _share(usage.get("completion_tokens"), count)
        return [
            Completion(
                text=text,
                finish_reason=choice.get("finish_reason"),
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                latency_seconds=latency,
            )
            for text, choice in zip(texts, choices)
        ]


def _share(total: Any, count: int) -> int | None:
    return round(total / count) if isinstance(total, int) else None
