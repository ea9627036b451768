"""Any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, hosted APIs) over httpx2.

httpx2 is the maintained fork of httpx that the openai client itself runs on; plain
``httpx.AsyncClient`` stalls at high concurrency (encode/httpx#3215), and the openai
client's request validation costs about as much CPU as the HTTP exchange, so requests
are built and parsed here.

Requests are async with a bounded number in flight per server; 429, 5xx, timeouts,
dropped connections and malformed replies are retried with exponential backoff and full
jitter, honouring ``Retry-After``. Several servers may stand behind one backend: a
``Router`` (models/routing.py) picks the server of each request and retries go to
another one. Each draw carries its own seed; several draws come from one request (the
``n`` parameter) only when asked for and only for consecutive seeds, which is how vLLM
seeds the choices of an ``n`` request (choice i gets seed + i). A server that refuses
``n`` (or returns fewer choices) is remembered and asked one draw per request from then
on. The API key is read from an environment variable and never appears in an error
message.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import os
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from surestep.models.base import Completion, GenerationError, GenerationRequest
from surestep.models.engines import probe_server
from surestep.models.routing import (
    AllServersOutError,
    BreakerPolicy,
    Lease,
    Router,
    ServerSpec,
    ServerStats,
    check_distinct,
    server_spec,
)

if TYPE_CHECKING:
    import httpx2

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


def routing_key(request: GenerationRequest) -> str:
    """What decides a request's preferred server: its messages, so one problem's draws meet one cache."""
    return hashlib.blake2b(json.dumps(request.messages).encode(), digest_size=12).hexdigest()


def consecutive_seeds(seeds: Sequence[int | None]) -> bool:
    """True when one ``n`` request with the first seed stands for these draws on vLLM (seed + i)."""
    if all(seed is None for seed in seeds):
        return True
    first = seeds[0]
    return first is not None and all(seed == first + i for i, seed in enumerate(seeds))


class _RetryableError(Exception):
    def __init__(self, reason: str, wait: float | None = None, *, server_fault: bool = True) -> None:
        super().__init__(reason)
        self.wait = wait
        self.server_fault = server_fault  # False for 429: the server is up, only busy


class _MultiDrawRefusedError(Exception):
    """The server rejected a multi-draw request (it does not accept ``n``)."""


class OpenAIBackend:
    """Chat or completion endpoint of one or more OpenAI-compatible servers serving the same model."""

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | Sequence[str | ServerSpec],
        api_key_env: str = "OPENAI_API_KEY",
        endpoint: str = "chat",
        concurrency: int = 32,
        timeout: float = 600.0,
        max_retries: int = 8,
        draws_per_request: int = 1,
        backoff_base: float = 0.5,
        breaker: BreakerPolicy | None = None,
    ) -> None:
        import httpx2 as httpx

        if endpoint not in ("chat", "completion"):
            raise ValueError("endpoint must be 'chat' or 'completion'")
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        specs = [u if isinstance(u, ServerSpec) else server_spec(u, concurrency, "--base-url") for u in urls]
        check_distinct(specs)
        self.model = model
        self.endpoint = endpoint
        self.router = Router(specs, breaker)
        self.max_concurrency = self.router.capacity
        self.max_draws_per_request = max(1, draws_per_request)
        self._api_key = os.environ.get(api_key_env, "")
        self._api_key_env = api_key_env
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._timeout = timeout
        self._multi_draw = self.max_draws_per_request > 1
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        self._clients = [
            httpx.AsyncClient(
                base_url=spec.url,
                headers=headers,
                timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)),
                limits=httpx.Limits(
                    max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency
                ),
            )
            for spec in specs
        ]
        self._network_errors = (httpx.TimeoutException, httpx.TransportError)
        self.retries = 0

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "endpoint": self.endpoint}

    def servers(self) -> tuple[ServerStats, ...]:
        """Each server's draws, requests, failures and state so far."""
        return self.router.stats()

    async def engines(self) -> list[dict[str, Any]]:
        """What each server says about itself (model, engine version, dtype, parallelism), when it says."""
        specs = self.router.specs
        seconds = min(self._timeout, 10.0)
        found = await asyncio.gather(
            *(probe_server(client, spec, self.model, seconds) for client, spec in zip(self._clients, specs))
        )
        return [engine for engine in found if engine is not None]

    async def aclose(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._clients))

    async def generate(self, request: GenerationRequest) -> list[Completion]:
        key = routing_key(request)
        if request.count > 1 and self._multi_draw and consecutive_seeds(request.seeds):
            try:
                return await self._request(request, request.count, key)
            except _MultiDrawRefusedError:
                self._multi_draw = False
        if request.count == 1:
            return await self._request(request, 1, key)
        single = [GenerationRequest(request.messages, request.params, (seed,)) for seed in request.seeds]
        results = await asyncio.gather(*(self._request(r, 1, key) for r in single))
        return [completion for result in results for completion in result]

    def _body(self, request: GenerationRequest, count: int) -> tuple[str, dict[str, Any]]:
        params = request.params
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        if request.seeds[0] is not None:
            body["seed"] = request.seeds[0]
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

    async def _request(self, request: GenerationRequest, count: int, key: str) -> list[Completion]:
        path, body = self._body(request, count)
        last_reason, last_url = "", self.router.specs[0].url
        avoid: int | None = None
        for attempt in range(self._max_retries + 1):
            if attempt:
                self.retries += 1
            try:
                lease = await self.router.acquire(key, avoid)
            except AllServersOutError as exc:
                last_reason = f"{exc}; last error: {last_reason}" if last_reason else str(exc)
                wait: float | None = exc.wait
            else:
                last_url = self.router.specs[lease.server].url
                try:
                    return await self._send(lease, path, body, count)
                except _RetryableError as exc:
                    last_reason, wait = str(exc), exc.wait
                except self._network_errors as exc:
                    last_reason, wait = f"{type(exc).__name__}", None
                avoid = lease.server
            if attempt == self._max_retries:
                break
            backoff = random.uniform(0, min(MAX_BACKOFF_SECONDS, self._backoff_base * 2**attempt))
            await asyncio.sleep(max(wait or 0.0, backoff))
        raise GenerationError(
            self._redact(f"{last_url}{path}: gave up after {self._max_retries + 1} attempts: {last_reason}")
        )

    async def _send(self, lease: Lease, path: str, body: dict[str, Any], count: int) -> list[Completion]:
        """One attempt on the leased server; the lease goes back with what the attempt showed."""
        alive, draws = True, 0
        try:
            started = time.perf_counter()
            response = await self._clients[lease.server].post(path, json=body)
            latency = time.perf_counter() - started
            completions = self._parse(response, count, latency, lease.server)
            draws = len(completions)
            return completions
        except _RetryableError as exc:
            alive = not exc.server_fault
            raise
        except self._network_errors:
            alive = False
            raise
        finally:
            self.router.release(lease, alive=alive, draws=draws)

    def _parse(self, response: httpx2.Response, count: int, latency: float, server: int) -> list[Completion]:
        spec = self.router.specs[server]
        status = response.status_code
        if status in RETRY_STATUSES:
            raise _RetryableError(
                f"HTTP {status}",
                retry_after_seconds(response.headers.get("retry-after")),
                server_fault=status != 429,
            )
        if status >= 400:
            detail = self._redact(response.text[:300])
            if count > 1 and status in (400, 422):
                raise _MultiDrawRefusedError(detail)
            if status in (401, 403):
                raise GenerationError(f"HTTP {status} from {spec.url}: check ${self._api_key_env}")
            hint = " (for a server that rejects seeds: --no-seed)" if "seed" in detail.lower() else ""
            raise GenerationError(f"HTTP {status} from {spec.url}: {detail}{hint}")
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
                server=spec.label,
            )
            for text, choice in zip(texts, choices)
        ]


def _share(total: Any, count: int) -> int | None:
    return round(total / count) if isinstance(total, int) else None
