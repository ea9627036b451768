"""Text rewrites that bring an answer to the form a careful human grader would read.

Each rewrite is one named, documented rule (see docs/grading.md). They run on the gold
and the extracted answer alike, before any comparison layer, so the exact layers and
math-verify see the same text and cannot disagree about what an answer says:

- LaTeX spacing commands (``\\ ``, ``\\,``, ``\\;``, ``\\!``, ``\\quad``, ``~`` ...) become
  a plain space, so ``\\ p`` never glues into a command ``\\p``;
- percent written as a word (``28 percent``, ``28\\text{ pct}``, ``28\\text{\\%}``) becomes
  ``28\\%``;
- ``\\text{ and }`` / ``\\text{ or }`` between values, and a bare ``and`` / ``or`` after a
  number or a bracket, become a comma: ``x=1 \\text{ or } x=2`` is the list ``x=1,x=2``;
- a trailing unit after a number is dropped: words in ``\\text{}`` / ``\\mathrm{}``
  (``17\\text{ cm}^2``), common unit words (``10 cm``, ``5 dollars``) and ``\\$``;
- a mixed number, an integer immediately followed by ``\\frac{b}{c}`` with integer b and c
  and no operator, becomes the improper fraction: ``-2\\frac{1}{4}`` is ``-\\frac{9}{4}``;
- with the opt-in decimal-comma reading, a lone ``1000,99`` is ``1000.99``.
"""

from __future__ import annotations

import re

_SPACING = re.compile(
    r"(?<!\\)\\(?:[ ,;:!>]|(?:quad|qquad|enspace|thinspace|medspace|thickspace)(?![A-Za-z])"
    r"|hspace\*?\s*\{[^{}]*\})|~"
)
_SIZING = re.compile(r"\\(?:left|right|displaystyle|big|Big|bigg|Bigg)(?![A-Za-z])")
_PERCENT = re.compile(
    r"(?<=[\d}.])\s*(?:\\%|%|\\(?:text|mathrm|textrm|mbox)\s*\{\s*(?:\\%|%|percent|per\s*cent|pct)\s*\}"
    r"|(?:percent|per\s*cent|pct)(?![A-Za-z]))\.?",
    re.I,
)
_TEXT_CONNECTIVE = re.compile(r"\s*\\(?:text|textrm|mathrm|mbox)\s*\{\s*(?:and|or)\s*\}\s*")
_BARE_CONNECTIVE = re.compile(r"(?<=[\d)\]}])\s+(?:and|or)\s+(?=[-+\d(\[\\A-Za-z])")
_UNIT_WORDS = (
    r"(?:square\s+|sq\.?\s+|cubic\s+)?"
    r"(?:units?|cm|mm|km|m|in|inch(?:es)?|ft|feet|foot|yards?|yd|miles?|mi|meters?|metres?"
    r"|centimeters?|centimetres?|millimeters?|kilometers?|dollars?|cents?|euros?|degrees?"
    r"|radians?|hours?|hrs?|minutes?|mins?|seconds?|secs?|days?|weeks?|months?|years?"
    r"|grams?|g|kg|kilograms?|pounds?|lbs?|ounces?|oz|liters?|litres?|mph|km/h|mL|ml|L"
    r"|people|persons?|students?|ways?|times|points?|marbles?|coins?|pieces?|steps?)"
)
# words that change a number's meaning are never dropped as a unit ("2 or more")
_MEANINGFUL = re.compile(r"\b(?:or|and|not|no|more|less|least|most|than|to|at|per|each|only)\b", re.I)
_TEXT_UNIT = re.compile(
    r"(?<=[\d}.])\s*\\(?:text|textrm|mathrm|mbox|rm)\s*\{\s*([A-Za-z][A-Za-z .]*?)\s*\}"
    r"(?:\s*\^\s*\{?\s*[23]\s*\}?)?\s*\.?$"
)
_BARE_UNIT = re.compile(r"(?<=[\d}.])\s+" + _UNIT_WORDS + r"(?:\s*\^\s*\{?\s*[23]\s*\}?)?\s*\.?$")
_DOLLAR = re.compile(r"^\s*\\\$\s*|(?<=[\d.])\s*\\\$\s*$")
_MIXED = re.compile(r"(?<![\w^_.}\\)\]])(\d+)\s*\\[dt]?frac\s*(?:\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}|(\d)(\d))")
_DECIMAL_COMMA = re.compile(r"([+-]?\d+),(\d{1,2}|\d{4,})")


def spaces_for_spacing_commands(text: str) -> str:
    """``\\ ``, ``\\,``, ``\\quad``, ``~`` ... -> one space; ``\\left``/``\\right`` dropped."""
    return _SIZING.sub("", _SPACING.sub(" ", text))


def percent_words(text: str) -> str:
    """``28 percent`` / ``28 pct`` / ``28\\text{ percent}`` / ``28%`` -> ``28\\%``."""
    return _PERCENT.sub(r"\\%", text)


def connectives_as_commas(text: str) -> str:
    """``x=1 \\text{ or } x=2`` -> ``x=1,x=2``; a bare "and"/"or" after a number too."""
    return _BARE_CONNECTIVE.sub(",", _TEXT_CONNECTIVE.sub(",", text))


def _unit_or_keep(match: re.Match[str]) -> str:
    return match.group(0) if _MEANINGFUL.search(match.group(0)) else ""


def drop_units(text: str) -> str:
    """A trailing unit after a number (``17\\text{ cm}^2``, ``10 cm``, ``\\$5``) is dropped."""
    out = _DOLLAR.sub("", text)
    out = _TEXT_UNIT.sub(_unit_or_keep, out)
    return _BARE_UNIT.sub(_unit_or_keep, out)


def _improper(match: re.Match[str]) -> str:
    whole = int(match.group(1))
    numerator = int(match.group(2) if match.group(2) is not None else match.group(4))
    denominator = int(match.group(3) if match.group(3) is not None else match.group(5))
    if denominator == 0:
        return match.group(0)
    return f"\\frac{{{whole * denominator + numerator}}}{{{denominator}}}"


def mixed_numbers(text: str) -> str:
    """``2\\frac{1}{4}`` -> ``\\frac{9}{4}`` (a leading sign applies to the whole number)."""
    return _MIXED.sub(_improper, text)


def decimal_comma(text: str) -> str:
    """``1000,99`` -> ``1000.99`` when the whole answer is one such number (opt-in only)."""
    match = _DECIMAL_COMMA.fullmatch(text.strip())
    return f"{match.group(1)}.{match.group(2)}" if match else text


def normalize_answer(text: str) -> str:
    """All default rewrites, in the order that keeps each one simple (idempotent)."""
    out = spaces_for_spacing_commands(text)
    out = percent_words(out)
    out = connectives_as_commas(out)
    out = drop_units(out.strip())
    return mixed_numbers(out)


def top_level_items(text: str) -> list[str]:
    """``text`` split at commas outside brackets: "(1,2),(3,4)" -> ["(1,2)", "(3,4)"]."""
    items: list[str] = []
    depth = 0
    start = 0
    for i, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return items
