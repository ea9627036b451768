"""Any chat model as a step critic, through an OpenAI-compatible server.

The model sees the question and the numbered steps and must reply with one JSON object,
``{"validity": [...], "redundancy": [...]}``, one number in [-1, 1] per step. Parsing is
tolerant of presentation (prose around the object, code fences, trailing commas) and strict
about content: a reply whose lists do not have exactly one number in range per step is recorded
as invalid with the reason, never padded or cut. Scores are mapped to [0, 1] by (s + 1) / 2, so
the default threshold 0.5 is the critic's own sign (PRMBench thresholds LLM critics at 0).

A request that still fails after the backend's retries stops the run (nothing of the chunk is
stored, and the run resumes where it stopped): a server outage must not turn into verdicts.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from surestep.errors import SurestepError
from surestep.models.base import GenerationError, GenerationRequest, SamplingParams
from surestep.models.openai_api import OpenAIBackend
from surestep.prm.scorers.base import SolutionToScore, StepScores
from surestep.prm.scorers.engine import strip_step_prefix

CRITIC_SYSTEM = """You review step-by-step solutions to math problems, one step at a time.

For every step give two numbers between -1 and 1:
- "validity": is this step correct, given the question and the steps before it? Count wrong \
arithmetic, wrong algebra, unjustified claims, misused conditions and conclusions that do not \
follow. 1 means certainly correct, -1 certainly wrong; use values in between when unsure.
- "redundancy": could this step be deleted without the solution losing anything it needs? \
1 means certainly redundant, -1 certainly needed.

Answer with a single JSON object and nothing else:
{"validity": [one number per step], "redundancy": [one number per step]}
Both lists must have exactly one entry per step, in the order of the steps."""

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_KEYS = ("validity", "redundancy")


def critic_prompt(question: str, steps: Sequence[str]) -> str:
    """The user turn for one solution: the question and its numbered steps."""
    numbered = "\n\n".join(f"Step {i + 1}: {strip_step_prefix(step)}" for i, step in enumerate(steps))
    return (
        f"Question:\n{question}\n\nSolution ({len(steps)} steps):\n{numbered}\n\n"
        f"Reply with {len(steps)} validity and {len(steps)} redundancy scores."
    )


def first_json_object(text: str) -> dict[str, Any] | None:
    """The first balanced ``{...}`` in ``text`` that parses as JSON (fenced blocks looked at first).

    Braces inside JSON strings do not count towards the balance; a trailing comma before ``}``
    or ``]`` is forgiven. Nothing is ever evaluated.
    """
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        for start in (i for i, ch in enumerate(candidate) if ch == "{"):
            end = _balanced_end(candidate, start)
            if end is None:
                continue
            chunk = _TRAILING_COMMA.sub(r"\1", candidate[start:end])
            try:
                value = json.loads(chunk)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None


def _balanced_end(text: str, start: int) -> int | None:
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


@dataclass(frozen=True)
class CriticVerdict:
    """Per-step scores in [-1, 1] as the model gave them, or why the reply could not be used."""

    validity: tuple[float, ...] = ()
    redundancy: tuple[float, ...] = ()
    error: str | None = None


def parse_critic_reply(text: str, steps: int) -> CriticVerdict:
    """Read a critic's reply for a solution of ``steps`` steps (see the module docstring)."""
    found = first_json_object(text)
    if found is None:
        return CriticVerdict(error="no JSON object in the reply")
    lists: dict[str, tuple[float, ...]] = {}
    for key in _KEYS:
        values = found.get(key)
        if not isinstance(values, list):
            return CriticVerdict(error=f"the reply has no {key!r} list")
        if len(values) != steps:
            return CriticVerdict(error=f"the reply has {len(values)} {key} scores for {steps} steps")
        numbers = []
        for i, value in enumerate(values):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return CriticVerdict(error=f"{key}[{i}] is not a number: {value!r}")
            if not -1.0 <= value <= 1.0:
                return CriticVerdict(error=f"{key}[{i}] = {value} is outside [-1, 1]")
            numbers.append(float(value))
        lists[key] = tuple(numbers)
    return CriticVerdict(lists["validity"], lists["redundancy"])


@dataclass(frozen=True)
class FewShotExample:
    question: str
    steps: tuple[str, ...]
    validity: tuple[float, ...]
    redundancy: tuple[float, ...]

    def messages(self) -> list[tuple[str, str]]:
        reply = json.dumps({"validity": list(self.validity), "redundancy": list(self.redundancy)})
        return [("user", critic_prompt(self.question, self.steps)), ("assistant", reply)]


def load_few_shot(path: Path) -> list[FewShotExample]:
    """JSONL, one example per line: ``question``, ``steps`` and the ``validity`` and ``redundancy``
    lists the critic should have answered (checked exactly as a reply would be)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SurestepError(f"{path}: cannot read few-shot examples ({exc.strerror})") from None
    examples = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SurestepError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise SurestepError(f"{where}: expected a JSON object")
        question, steps = row.get("question"), row.get("steps")
        if not isinstance(question, str):
            raise SurestepError(f"{where}: field 'question' must be text")
        if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
            raise SurestepError(f"{where}: field 'steps' must be a non-empty list of text")
        verdict = parse_critic_reply(json.dumps({k: row.get(k) for k in _KEYS}), len(steps))
        if verdict.error is not None:
            raise SurestepError(f"{where}: {verdict.error.replace('the reply', 'the example')}")
        examples.append(FewShotExample(question, tuple(steps), verdict.validity, verdict.redundancy))
    if not examples:
        raise SurestepError(f"{path}: no few-shot examples")
    return examples


class CriticScorer:
    """A chat model asked for per-step validity and redundancy scores (see the module docstring)."""

    name: ClassVar[str] = "critic"
    models: ClassVar[tuple[str, ...]] = ("any chat model on an OpenAI-compatible server (--base-url)",)
    description: ClassVar[str] = (
        "our prompt (+ optional --few-shot examples) asks for JSON {validity: [...], redundancy: [...]} "
        "in [-1, 1] per step; scores are (s + 1) / 2; wrong-length or malformed replies are invalid"
    )

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 16,
        max_tokens: int = 2048,
        few_shot: Sequence[FewShotExample] = (),
        timeout: float = 600.0,
        max_retries: int = 8,
        backoff_base: float = 0.5,
    ) -> None:
        self.model = model
        self.backend_options: dict[str, Any] = {
            "base_url": base_url,
            "api_key_env": api_key_env,
            "concurrency": concurrency,
            "timeout": timeout,
            "max_retries": max_retries,
            "draws_per_request": 1,
            "backoff_base": backoff_base,
        }
        self.params = SamplingParams(temperature=0.0, max_tokens=max_tokens)
        self.few_shot = tuple(few_shot)

    def messages(self, item: SolutionToScore) -> tuple[tuple[str, str], ...]:
        shots = [message for example in self.few_shot for message in example.messages()]
        return (("system", CRITIC_SYSTEM), *shots, ("user", critic_prompt(item.question, item.steps)))

    def score(self, items: Sequence[SolutionToScore]) -> list[StepScores]:
        return asyncio.run(self._score(items))

    async def _score(self, items: Sequence[SolutionToScore]) -> list[StepScores]:
        backend = OpenAIBackend(self.model, **self.backend_options)
        try:
            requests = [GenerationRequest(self.messages(item), self.params, (0,)) for item in items]
            replies = await asyncio.gather(*(backend.generate(request) for request in requests))
        except GenerationError as exc:
            raise SurestepError(f"critic {self.model}: {exc}") from None
        finally:
            await backend.aclose()
        return [self._verdict(item, completions[0].text) for item, completions in zip(items, replies)]

    @staticmethod
    def _verdict(item: SolutionToScore, text: str) -> StepScores:
        verdict = parse_critic_reply(text, len(item.steps))
        if verdict.error is not None:
            excerpt = text if len(text) <= 200 else text[:200] + "…"
            return StepScores(item.id, (), valid=False, error=f"{verdict.error} (reply: {excerpt!r})")
        return StepScores(
            item.id,
            tuple((v + 1) / 2 for v in verdict.validity),
            tuple((r + 1) / 2 for r in verdict.redundancy),
        )
