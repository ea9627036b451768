"""A fault-injecting OpenAI-compatible server for tests and benchmarks (its own process).

Run: python -m tests.models.fault_server [--latency S] [--fault-rate F] [--faults 429,500,...]
It prints ``PORT <n>`` on stdout once listening on 127.0.0.1.

Replies are deterministic in (prompt, seed, choice index, temperature): a question
"What is A + B?" is answered correctly unless a hash of those says otherwise (about 30%
of draws), so runs against this server have a visible stability gap and a resumed run
can be compared draw for draw with an uninterrupted one. Faults are drawn at random per
request: 429 with Retry-After, 500, malformed JSON, a stall past the client's timeout,
or a dropped connection. GET /stats returns counters.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class _State:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.fault_seed)
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {"requests": 0, "ok": 0, **{f: 0 for f in FAULTS}}
        self.authorization: set[str] = set()

    def fault(self) -> str | None:
        with self.lock:
            self.counts["requests"] += 1
            if self.rng.random() < self.args.fault_rate:
                fault = self.rng.choice(self.args.faults)
                self.counts[fault] += 1
                return fault
            self.counts["ok"] += 1
            return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: _State

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        with self.state.lock:
            stats = {**self.state.counts, "authorization": sorted(self.state.authorization)}
        self._send(200, json.dumps(stats).encode())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        with self.state.lock:
            self.state.authorization.add(self.headers.get("Authorization", ""))
        args = self.state.args
        if args.latency:
            time.sleep(args.latency)
        fault = self.state.fault()
        if fault == "429":
            self._send(429, b'{"error": "rate limited"}', {"Retry-After": str(args.retry_after)})
            return
        if fault == "500":
            self._send(500, b'{"error": "internal"}')
            return
        if fault == "malformed":
            self._send(200, b'{"choices": [{"message": ')
            return
        if fault == "stall":
            time.sleep(args.stall_seconds)
            self.close_connection = True
            return
        if fault == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        count = int(body.get("n", 1))
        if count > 1 and args.reject_n:
            self._send(400, b'{"error": "n > 1 is not supported"}')
            return
        chat = self.path.endswith("/chat/completions")
        prompt = "\n".join(m["content"] for m in body.get("messages", [])) if chat else body.get("prompt", "")
        temperature = float(body.get("temperature", 1.0))
        seed = int(body.get("seed", 0))
        texts = [reply_text(prompt, seed, i, temperature) for i in range(count)]
        choices = [
            {
                "index": i,
                "finish_reason": "stop",
                **({"message": {"role": "assistant", "content": t}} if chat else {"text": t}),
            }
            for i, t in enumerate(texts)
        ]
        usage = {
            "prompt_tokens": len(prompt.split()),
            "completion_tokens": sum(len(t.split()) for t in texts),
        }
        self._send(200, json.dumps({"choices": choices, "usage": usage, "model": body.get("model")}).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512


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
    args = parser.parse_args(argv)
    _Handler.state = _State(args)
    server = _Server(("127.0.0.1", args.port), _Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
