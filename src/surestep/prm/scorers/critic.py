"""Any chat model as a step critic, through an OpenAI-compatible server, under one of two protocols.

``card`` (surestep's own): the model sees the question and the numbered steps and must reply
with one JSON object, ``{"validity": [...], "redundancy": [...]}``, one number in [-1, 1] per
step. Parsing is tolerant of presentation (prose around the object, code fences, trailing
commas) and strict about content: a reply whose lists do not have exactly one number in range
per step is recorded as invalid with the reason, never padded or cut. Scores are mapped to
[0, 1] by (s + 1) / 2, so the default threshold 0.5 is the critic's own sign.

``prmbench`` reproduces PRMBench's LLM evaluator (``mr_eval/models/openai_models.py``): its
role layout, its user-turn format, two few-shot examples in its format (written for surestep,
not PRMBench's own) and its reply handling: the first top-level JSON object that parses (after
its comment stripping), with both keys, whose lists PRMBench can threshold. What PRMBench would
score is scored as given -- any length, any value -- and judged at 0; what it would drop or fail
on is recorded as invalid.

A request that still fails after the backend's retries stops the run (nothing of the chunk is
stored, and the run resumes where it stopped): a server outage must not turn into verdicts.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from surestep.errors import SurestepError
from surestep.models.base import GenerationError, GenerationRequest, SamplingParams
from surestep.models.openai_api import OpenAIBackend
from surestep.prm.protocol import CARD, PRMBENCH, PROTOCOLS, prmbench_strip
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


# --- the prmbench protocol ---------------------------------------------------------------------

PRMBENCH_INSTRUCTION = """
You evaluate step-by-step solutions to math problems and report your assessment as JSON.

Rate every step of the solution on two scales, each running from -1 to +1:
1. Validity:
   * +1: the step's mathematics is entirely correct
   * 0: the step is partly right but contains mistakes
   * -1: the step is wrong
   * Values in between express degrees in between
2. Redundancy:
   * -1: the step is essential to reaching the answer
   * 0: the step matters somewhat
   * +1: the step could be dropped without any loss
   * Values in between express degrees in between

Rules:
- Judge each step on its own merits
- Give every score as a decimal number
- Answer with JSON of exactly this shape: {"validity": [scores], "redundancy": [scores]}
- Each list holds one score per step, in the order of the steps
- Be rigorous about the mathematics, the logic that links the steps and how economical they are

For a three-step solution, for instance:
{"validity": [0.9, -0.4, 1.0], "redundancy": [-1.0, 0.2, 0.8]}

A problem and its numbered solution steps follow; assess every step in the JSON shape above.

"""
"""Our own instruction, covering what PRMBench's system prompt covers (``mr_eval/utils/prompts.py:1-30``)."""

PRMBENCH_ROLE_USER_MODELS = frozenset({"o1-mini", "o1-preview"})
"""Models PRMBench sends the instruction as a user turn, at temperature 1 (``openai_models.py:39-44``)."""


def prmbench_example(question: str, steps: Sequence[str], answer: str) -> str:
    """A few-shot user turn in the layout of PRMBench's examples (``mr_eval/utils/prompts.py:32-58``)."""
    numbered = "".join(f"Step {i + 1}. {step}\n\n" for i, step in enumerate(steps))
    return f"\nQuestion:\n\n{question}\n\nSolution:\n\n{numbered}# Answer\n\n{answer}\n"


def prmbench_example_reply(validity: Sequence[float], redundancy: Sequence[float]) -> str:
    """The assistant turn of a few-shot example, formatted as PRMBench's (``prompts.py:59``)."""
    return f'{{"validity": {json.dumps(list(validity))},"redundancy": {json.dumps(list(redundancy))}}}'


PRMBENCH_SHOTS: tuple[tuple[str, str], ...] = (
    (
        prmbench_example(
            "A rectangle's length is twice its width, and its perimeter is 36 cm. What is its area, in "
            "square centimetres?",
            [
                "Let the width be $w$; then the length is $2w$.",
                "The perimeter is $2(w + 2w) = 6w$, so $6w = 36$.",
                "Dividing by 6 gives $w = 6$.",
                "So the width is 6 cm and the length is $2 \\cdot 6 = 12$ cm.",
                "Let me check the perimeter: $2(6 + 12) = 36$. Good.",
                "The area is $6 \\cdot 12 = 72$.",
                "The area is 72.",
                "So the rectangle's area is $72$ square centimetres.",
            ],
            "72",
        ),
        prmbench_example_reply(
            [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [-1.0, -1.0, -0.5, -0.5, 0.5, -1.0, 1.0, 0.5]
        ),
    ),
    (
        prmbench_example(
            "How many positive divisors does 72 have?",
            [
                "Let's factor 72 into primes.",
                "$72 = 8 \\cdot 9 = 2^3 \\cdot 3^2$.",
                "Every divisor has the form $2^a 3^b$ with $0 \\le a \\le 3$ and $0 \\le b \\le 2$.",
                "So $a$ can take 3 values and $b$ can take 2 values.",
                "That gives $3 \\cdot 2 = 6$ divisors.",
                "Listing a few to be sure: 1, 2, 3, 4, 6 and 8 all divide 72.",
                "So 72 has 6 positive divisors.",
            ],
            "6",
        ),
        prmbench_example_reply(
            [1.0, 1.0, 1.0, -1.0, -1.0, 0.6, -1.0], [-0.5, -1.0, -1.0, -1.0, -1.0, 0.8, -0.5]
        ),
    ),
)
"""Two worked examples written for surestep in PRMBench's few-shot format (PRMBench always sends two)."""


def prmbench_prompt(question: str, steps: Sequence[str]) -> str:
    """The user turn PRMBench builds for one solution (``openai_models.py:75-80``)."""
    numbered = "".join(f"Step {i + 1}: {prmbench_strip(step)} \n\n" for i, step in enumerate(steps))
    return f"Question: {question}\n\n Solutions: {numbered}"


_COMMENT = re.compile(r"//.*?$|#.*?$", re.M)


def prmbench_json_object(text: str) -> dict[str, Any] | None:
    """The object PRMBench's reply reader finds (``mr_eval/utils/model_utils.py:67-102``), or None.

    Braces are counted without regard to strings; at each return to depth 0 the span, with
    everything from ``//`` or ``#`` to the end of its line removed (inside strings too), is
    parsed by Python's ``json`` (which accepts NaN and Infinity); the first that parses wins. A
    ``}`` with nothing open makes PRMBench's reader fail, and so the reply.
    """
    depth, start = 0, -1
    for i, ch in enumerate(text):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            if depth == 0:
                return None
            depth -= 1
            if depth == 0:
                try:
                    value = json.loads(_COMMENT.sub("", text[start : i + 1]))
                except json.JSONDecodeError:
                    continue
                return value if isinstance(value, dict) else None
    return None


_LARGEST = 1.7976931348623157e308


def _judged_number(value: float | int) -> float:
    """A reply number as a finite float that every threshold judges as PRMBench judges the value.

    NaN is never above a threshold, so it becomes the lowest float; infinities and integers
    beyond float range become the extreme floats of their sign.
    """
    if isinstance(value, float) and math.isnan(value):
        return -_LARGEST
    try:
        return max(-_LARGEST, min(_LARGEST, float(value)))
    except OverflowError:
        return _LARGEST if value > 0 else -_LARGEST


def _prmbench_list(value: object, key: str) -> tuple[tuple[float, ...] | None, str | None]:
    """The scores PRMBench would threshold from ``value`` (``openai_models.py:145-146``), or why not.

    PRMBench labels ``[item > 0 for item in value]``: a list of numbers (booleans count as 0/1)
    works, and so does an empty string or object (nothing to label); anything else raises, and
    PRMBench retries and finally drops the instance.
    """
    if isinstance(value, (str, dict)) and not value:
        return (), None
    if not isinstance(value, list):
        return None, f"{key} is {type(value).__name__}, not a list PRMBench can label"
    numbers = []
    for i, item in enumerate(value):
        if not isinstance(item, (bool, int, float)):
            return None, f"{key}[{i}] is not a number PRMBench can compare with 0: {item!r}"
        numbers.append(_judged_number(item))
    return tuple(numbers), None


def parse_prmbench_reply(text: str) -> CriticVerdict:
    """Read a reply as PRMBench does: any length, any value; invalid where PRMBench gets no labels."""
    found = prmbench_json_object(text)
    if found is None:
        return CriticVerdict(error="no JSON object PRMBench's reader accepts in the reply")
    lists: dict[str, tuple[float, ...]] = {}
    for key in _KEYS:
        if key not in found:
            return CriticVerdict(error=f"the reply has no {key!r} key")
    for key in _KEYS:
        values, error = _prmbench_list(found[key], key)
        if values is None:
            return CriticVerdict(error=error)
        lists[key] = values
    return CriticVerdict(lists["validity"], lists["redundancy"])


class CriticScorer:
    """A chat model asked for per-step validity and redundancy scores (see the module docstring)."""

    name: ClassVar[str] = "critic"

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        protocol: str = CARD,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 16,
        max_tokens: int = 2048,
        few_shot: Sequence[FewShotExample] = (),
        timeout: float = 600.0,
        max_retries: int = 8,
        backoff_base: float = 0.5,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise SurestepError(f"unknown protocol {protocol!r} (known: {', '.join(PROTOCOLS)})")
        if protocol == PRMBENCH and few_shot:
            raise SurestepError("the prmbench protocol sends its own two examples; --few-shot is for card")
        self.model = model
        self.protocol = protocol
        self.backend_options: dict[str, Any] = {
            "base_url": base_url,
            "api_key_env": api_key_env,
            "concurrency": concurrency,
            "timeout": timeout,
            "max_retries": max_retries,
            "draws_per_request": 1,
            "backoff_base": backoff_base,
        }
        # openai_models.py:39-44: o1-mini and o1-preview at temperature 1, every other model at 0
        user_first = protocol == PRMBENCH and model in PRMBENCH_ROLE_USER_MODELS
        self.params = SamplingParams(temperature=1.0 if user_first else 0.0, max_tokens=max_tokens)
        self.first_role = "user" if user_first else "system"
        self.few_shot = tuple(few_shot)

    def messages(self, item: SolutionToScore) -> tuple[tuple[str, str], ...]:
        if self.protocol == PRMBENCH:  # openai_models.py:99-124
            shots = [message for q, a in PRMBENCH_SHOTS for message in (("user", q), ("assistant", a))]
            prompt = prmbench_prompt(item.question, item.steps)
            return ((self.first_role, PRMBENCH_INSTRUCTION), *shots, ("user", prompt))
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
        return [
            replace(
                self._verdict(item, c[0].text),
                prompt_tokens=c[0].prompt_tokens,
                completion_tokens=c[0].completion_tokens,
            )
            for item, c in zip(items, replies)
        ]

    def _verdict(self, item: SolutionToScore, text: str) -> StepScores:
        prmbench = self.protocol == PRMBENCH
        verdict = parse_prmbench_reply(text) if prmbench else parse_critic_reply(text, len(item.steps))
        if verdict.error is not None:
            excerpt = text if len(text) <= 200 else text[:200] + "…"
            return StepScores(item.id, (), valid=False, error=f"{verdict.error} (reply: {excerpt!r})")
        if prmbench:  # scored as given; entries past the last step are counted as PRMBench counts them
            n = len(item.steps)
            return StepScores(
                item.id,
                verdict.validity[:n],
                verdict.redundancy[:n],
                extra_scores=verdict.validity[n:],
                extra_redundancy_scores=verdict.redundancy[n:],
            )
        return StepScores(
            item.id,
            tuple((v + 1) / 2 for v in verdict.validity),
            tuple((r + 1) / 2 for r in verdict.redundancy),
        )
