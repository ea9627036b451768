"""Cheap checks that refuse pathological answers before any parser sees them.

Each check is a linear scan or a simple regex without nested quantifiers, so a guard
can never be the slow part. The thresholds are generous for real math answers
(competition answers are short) and stop the inputs that make symbolic parsers hang:
power towers, huge exponents and factorials, absurd digit counts and brace nesting.
"""

from __future__ import annotations

import re

MAX_ANSWER_CHARS = 2000
MAX_BRACE_DEPTH = 24
MAX_DIGITS = 120
MAX_EXPONENT = 10_000
MAX_FACTORIAL = 1_000

_DIGIT_RUN = re.compile(rf"\d{{{MAX_DIGITS + 1},}}")
_EXPONENT = re.compile(r"(?:\^|\*\*)\s*\{?\s*\(?\s*\+?(\d+)")
_FACTORIAL = re.compile(r"(\d+)\s*\}?\s*!")
_TOWER_BARE = re.compile(r"(?:\^|\*\*)\s*[\w.]+\s*(?:\^|\*\*)")


def brace_depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "})]" and depth > 0:
            depth -= 1
    return deepest


def _exponent_nesting(text: str) -> int:
    """How many exponents are nested inside each other, e.g. a^{b^{c}} -> 2."""
    deepest = 0
    stack: list[bool] = []  # for each open brace: does it open an exponent?
    in_exponents = 0
    previous = ""
    for char in text:
        if char == "{":
            opens_exponent = previous == "^"
            stack.append(opens_exponent)
            if opens_exponent:
                in_exponents += 1
                deepest = max(deepest, in_exponents)
        elif char == "}" and stack:
            if stack.pop():
                in_exponents -= 1
        elif char == "^" and in_exponents:
            deepest = max(deepest, in_exponents + 1)
        if not char.isspace():
            previous = char
    return deepest


_INNERMOST_EXPONENT = re.compile(r"\^\s*\{([^{}]*)\}")
_COMMAND = re.compile(r"\\[A-Za-z]+")
_VARIABLE = re.compile(r"[A-Za-z]")


def _collapse_if_symbolic(match: re.Match[str]) -> str:
    return "^v" if _VARIABLE.search(_COMMAND.sub("", match.group(1))) else match.group(0)


def _without_symbolic_exponents(text: str) -> str:
    """Exponents holding a variable collapse to ``^v``: ``10^{2^n-n-1}`` cannot blow up."""
    previous = None
    while previous != text:
        previous, text = text, _INNERMOST_EXPONENT.sub(_collapse_if_symbolic, text)
    return text


def rejection_reason(text: str) -> str | None:
    """Why ``text`` is refused before parsing, or None when it may be parsed."""
    if len(text) > MAX_ANSWER_CHARS:
        return f"longer than {MAX_ANSWER_CHARS} characters"
    if brace_depth(text) > MAX_BRACE_DEPTH:
        return f"brackets nested deeper than {MAX_BRACE_DEPTH}"
    if _DIGIT_RUN.search(text):
        return f"a number with more than {MAX_DIGITS} digits"
    numeric = _without_symbolic_exponents(text)
    if _TOWER_BARE.search(numeric) or _exponent_nesting(numeric) >= 2:
        return "a power tower of numbers"
    for match in _EXPONENT.finditer(text):
        if int(match.group(1)) > MAX_EXPONENT:
            return f"an exponent above {MAX_EXPONENT}"
    for match in _FACTORIAL.finditer(text):
        if int(match.group(1)) > MAX_FACTORIAL:
            return f"a factorial above {MAX_FACTORIAL}!"
    if "\\uparrow" in text or "\\underbrace" in text:
        return "a hyperoperation"
    return None
