"""An LLM judge for answers that rules cannot settle, through any OpenAI-compatible endpoint.

The judge sees the question, the reference answer and the extracted answer, and must
reply with a boxed yes or no. Anything else is a judge error, never a guess. Requests run
at temperature 0 and are cached by content (model, prompt), in memory and optionally in
a SQLite file, so re-grading never pays twice.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

JUDGE_PROMPT = """You are grading one answer to a math problem against the reference answer.
Decide only whether the candidate's final answer means the same thing as the reference answer
(equivalent values or expressions count; different forms of the same number count). Do not
solve the problem again and do not judge the reasoning.

Problem:
{question}

Reference answer:
{reference}

Candidate's final answer:
{answer}

Reply with exactly \\boxed{{yes}} if they are equivalent, or \\boxed{{no}} if they are not."""

_VERDICT = re.compile(r"\\boxed\{\s*(yes|no)\s*\}", re.I)
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class JudgeConfig:
    """Where the judge model is served and how to call it."""

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    timeout_seconds: float = 60.0
    max_attempts: int = 4
    concurrency: int = 8
    cache_path: Path | None = None


@dataclass(frozen=True)
class JudgeReply:
    """``verdict`` is True / False, or None for a judge error (``error`` says why)."""

    verdict: bool | None
    raw: str | None
    error: str | None = None
    cached: bool = False


def parse_verdict(text: str) -> bool | None:
    """True for a single boxed yes, False for a single boxed no, None for anything else."""
    found = {m.group(1).lower() for m in _VERDICT.finditer(text)}
    if len(found) != 1:
        return None
    return found.pop() == "yes"


def judge_prompt(question: str | None, reference: str, answer: str) -> str:
    return JUDGE_PROMPT.format(question=question or "(not given)", reference=reference, answer=answer)


class _Cache:
    """Content-addressed cache of judge replies: a dict, backed by SQLite when a path is given."""

    def __init__(self, path: Path | None) -> None:
        self._memory: dict[str, str] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS judge (key TEXT PRIMARY KEY, reply TEXT NOT NULL)")
            self._db.commit()

    def get(self, key: str) -> str | None:
        with self._lock:
            if key in self._memory:
                return self._memory[key]
            if self._db is not None:
                row = self._db.execute("SELECT reply FROM judge WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    self._memory[key] = row[0]
                    return str(row[0])
        return None

    def put(self, key: str, reply: str) -> None:
        with self._lock:
            self._memory[key] = reply
            if self._db is not None:
                self._db.execute("INSERT OR REPLACE INTO judge VALUES (?, ?)", (key, reply))
                self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


class JudgeClient:
    """Asks the judge model about (question, reference, answer) triples, concurrently."""

    def __init__(self, config: JudgeConfig) -> None:
        self.config = config
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(config.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        import httpx

        self._http: httpx.Client = httpx.Client(
            base_url=config.base_url.rstrip("/"), headers=headers, timeout=config.timeout_seconds
        )
        self._cache = _Cache(config.cache_path)

    def __enter__(self) -> JudgeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
        self._cache.close()

    def _key(self, prompt: str) -> str:
        return hashlib.sha256(f"{self.config.model}\0{prompt}".encode()).hexdigest()

    def _request(self, prompt: str) -> str:
        body = {
            "model": self.config.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "max_tokens": 16,
        }
        import httpx

        last_error = "no attempt made"
        for attempt in range(self.config.max_attempts):
            try:
                response = self._http.post("/chat/completions", json=body)
            except httpx.HTTPError as exc:
                last_error = f"{type(exc).__name__}"
            else:
                if response.status_code == 200:
                    try:
                        return str(response.json()["choices"][0]["message"]["content"])
                    except (ValueError, KeyError, IndexError, TypeError):
                        raise ValueError("malformed response body from the judge server") from None
                last_error = f"HTTP {response.status_code}"
                if response.status_code not in _RETRY_STATUS:
                    break
                retry_after = response.headers.get("Retry-After")
                if retry_after and retry_after.replace(".", "", 1).isdigit():
                    time.sleep(min(float(retry_after), 30.0))
                    continue
            time.sleep(min(0.25 * 2**attempt, 8.0) * (0.5 + random.random()))
        raise ConnectionError(last_error)

    def ask(self, question: str | None, reference: str, answer: str) -> JudgeReply:
        prompt = judge_prompt(question, reference, answer)
        key = self._key(prompt)
        cached = self._cache.get(key)
        if cached is not None:
            return JudgeReply(parse_verdict(cached), cached, cached=True)
        try:
            raw = self._request(prompt)
        except (ConnectionError, ValueError) as exc:
            return JudgeReply(None, None, error=f"judge request failed: {exc}")
        verdict = parse_verdict(raw)
        if verdict is not None:
            self._cache.put(key, raw)
        error = None if verdict is not None else "reply is not a single boxed yes/no"
        return JudgeReply(verdict, raw, error=error)

    def ask_many(self, triples: Sequence[tuple[str | None, str, str]]) -> list[JudgeReply]:
        with ThreadPoolExecutor(max_workers=max(1, self.config.concurrency)) as pool:
            return list(pool.map(lambda t: self.ask(*t), triples))
