"""A fault-injecting OpenAI-compatible server for tests and benchmarks (its own process).

Run: python -m tests.models.fault_server [--latency S] [--fault-rate F] [--faults 429,500,...]
It prints ``PORT <n>`` on stdout once listening on 127.0.0.1 (``--port`` picks the port,
so a killed server can be brought back where it was).

Replies are deterministic in (prompt, seed, temperature): a question "What is A + B?" is
answered correctly unless a hash of those says otherwise (about 30% of draws), so runs
against this server have a visible stability gap and a resumed run can be compared draw
for draw with an uninterrupted one. Choice i of an ``n`` request is seeded like vLLM's,
with seed + i (``--seed-rule index`` hashes the request's seed with i instead, like a
server with another rule); a request without a seed gets a random one (``--reject-seed``
refuses seeds with 400). ``--max-concurrent C`` serves at most C requests at once (the
rest queue), as an engine with C sequence slots. Faults are drawn at random per request:
429 with Retry-After, 500, malformed JSON, a stall past the client's timeout, or a
dropped connection.

GET /stats returns counters; GET /v1/models and GET /version describe the server the way
vLLM does; POST /control {"latency": S} sets the latency of the requests that follow.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
from typing import Any

_SUM = re.compile(r"What is (-?\d+) \+ (-?\d+)\?")
FAULTS = ("429", "500", "malformed", "stall", "drop")


def reply_text(prompt: str, seed: int, index: int, temperature: float) -> str:
    key = f"{prompt}|{0 if temperature == 0 else seed}|{0 if temperature == 0 else index}"
    roll = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    match = _SUM.search(prompt)
    if match is None:
        return f"I think it is \\boxed{{{roll % 10}}}."
    total = int(match.group(1)) + int(match.group(2))
    wrong = roll % 10 < 3 and temperature > 0
    if roll % 20 == 19 and temperature > 0:
        return "This one is hard; I cannot finish."
    return f"Adding the two numbers gives \\boxed{{{total + 1 if wrong else total}}}."


def choice_text(prompt: str, seed: int, index: int, temperature: float, rule: str = "vllm") -> str:
    """Choice ``index`` of a request with ``seed``: vLLM's rule seeds it with seed + index."""
    if rule == "vllm":
        return reply_text(prompt, seed + index, 0, temperature)
    return reply_text(prompt, seed, index, temperature)


class _State:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.latency = args.latency
        self.rng = random.Random(args.fault_seed)
        self.seedless = random.Random()
        self.slots = asyncio.Semaphore(args.max_concurrent) if args.max_concurrent else None
        self.counts: dict[str, int] = {"requests": 0, "ok": 0, "seeded": 0, **{f: 0 for f in FAULTS}}
        self.authorization: set[str] = set()

    def fault(self) -> str | None:
        self.counts["requests"] += 1
        if self.rng.random() < self.args.fault_rate:
            fault = self.rng.choice(self.args.faults)
            self.counts[fault] += 1
            return fault
        self.counts["ok"] += 1
        return None


def _response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    reasons = {
        200: "OK",
        400: "Bad Request",
        404: "Not Found",
        429: "Too Many Requests",
        500: "Internal Server Error",
    }
    lines = [
        f"HTTP/1.1 {status} {reasons[status]}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _completion(state: _State, path: str, body: dict[str, Any]) -> bytes:
    count = int(body.get("n", 1))
    chat = path.endswith("/chat/completions")
    prompt = "\n".join(m["content"] for m in body.get("messages", [])) if chat else body.get("prompt", "")
    temperature = float(body.get("temperature", 1.0))
    if "seed" in body:
        state.counts["seeded"] += 1
        seed = int(body["seed"])
    else:
        seed = state.seedless.getrandbits(31)
    texts = [choice_text(prompt, seed, i, temperature, state.args.seed_rule) for i in range(count)]
    choices = [
        {
            "index": i,
            "finish_reason": "stop",
            **({"message": {"role": "assistant", "content": t}} if chat else {"text": t}),
        }
        for i, t in enumerate(texts)
    ]
    usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": sum(len(t.split()) for t in texts)}
    return json.dumps({"choices": choices, "usage": usage, "model": body.get("model")}).encode()


def _describe(state: _State, method: str, path: str, raw: bytes) -> bytes:
    """GET /stats, /v1/models, /version (anything else: 404) and POST /control."""
    args = state.args
    if method == "POST":
        state.latency = float(json.loads(raw)["latency"])
        return _response(200, b"{}")
    body: Any
    if path == "/stats":
        body = {**state.counts, "authorization": sorted(state.authorization)}
    elif path == "/v1/models":
        model = {
            "id": args.served_model,
            "object": "model",
            "owned_by": "fault-server",
            "root": "tests/fault-server",
            "max_model_len": 4096,
            "created": random.getrandbits(30),
        }
        body = {"object": "list", "data": [model]}
    elif path == "/version":
        body = {"version": args.version}
    else:
        return _response(404, b'{"error": "not found"}')
    return _response(200, json.dumps(body).encode())


async def _answer(state: _State, path: str, raw: bytes) -> bytes | None:
    """One completion request: the reply, b"" to drop the connection, or None to stall."""
    args = state.args
    if state.latency:
        await asyncio.sleep(state.latency)
    fault = state.fault()
    if fault == "stall":
        await asyncio.sleep(args.stall_seconds)
        return None
    if fault == "drop":
        return b""
    if fault == "429":
        return _response(429, b'{"error": "rate limited"}', {"Retry-After": args.retry_after})
    if fault == "500":
        return _response(500, b'{"error": "internal"}')
    if fault == "malformed":
        return _response(200, b'{"choices": [{"message": ')
    body = json.loads(raw or b"{}")
    if int(body.get("n", 1)) > 1 and args.reject_n:
        return _response(400, b'{"error": "n > 1 is not supported"}')
    if "seed" in body and args.reject_seed:
        return _response(400, b'{"error": "unsupported parameter: seed"}')
    return _response(200, _completion(state, path, body))


async def _handle(state: _State, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One connection: HTTP/1.1 requests with Content-Length bodies, kept alive until closed."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
            if method == "GET" or path == "/control":
                writer.write(_describe(state, method, path, raw))
                await writer.drain()
                continue
            state.authorization.add(headers.get("authorization", ""))
            if state.slots is None:
                reply = await _answer(state, path, raw)
            else:
                async with state.slots:
                    reply = await _answer(state, path, raw)
            if reply is None:
                break
            if not reply:
                writer.transport.abort()
                return
            writer.write(reply)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    writer.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--faults", type=lambda s: s.split(","), default=list(FAULTS))
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--retry-after", default="0.05")
    parser.add_argument("--stall-seconds", type=float, default=3.0)
    parser.add_argument("--reject-n", action="store_true")
    parser.add_argument("--reject-seed", action="store_true")
    parser.add_argument("--seed-rule", choices=["vllm", "index"], default="vllm")
    parser.add_argument("--max-concurrent", type=int, default=0, help="requests served at once (0: no limit)")
    parser.add_argument("--served-model", default="fake")
    parser.add_argument("--version", default="0.0-fault")
    args = parser.parse_args(argv)
    state = _State(args)

    async def serve() -> None:
        server = await asyncio.start_server(
            lambda r, w: _handle(state, r, w), "127.0.0.1", args.port, backlog=1024
        )
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
