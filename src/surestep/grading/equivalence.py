"""Is an extracted answer equivalent to the gold answer?

Layers, cheapest first:
1. exact rationals (integers, decimals, a/b, \\frac{a}{b}) compare exactly as fractions,
   never with a float tolerance, so 99999999999 != 100000000000; tuples, intervals and
   sets of them compare item by item;
2. polynomials with rational coefficients in one-letter variables, square roots and pi
   compare by their exact canonical forms (``exact_algebra``);
3. plain-text answers (words such as "Monday") compare as normalised text;
4. everything else goes to Hugging Face math-verify's LaTeX parser and verifier
   (intervals, sets, tuples, matrices, radicals, pi, equations, percentages, units).

Only LaTeX parsing is used: math-verify's plain-expression mode hands strings to
sympy's ``parse_expr``, which evaluates Python, so it is never enabled. math-verify's
own signal-based timeouts are switched off; the worker pool bounds the time instead.
"""

from __future__ import annotations

import logging
import math
import re
from fractions import Fraction
from functools import lru_cache
from importlib.metadata import version
from typing import Any

from surestep.grading.exact_algebra import canonical_form, variables
from surestep.grading.guards import rejection_reason
from surestep.grading.normalize import normalize_answer, top_level_items
from surestep.grading.records import MatchStatus

RULES_VERSION = "2"

_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mathbf|operatorname)\s*\{([^{}]*)\}")
_MATH_DELIMITERS = re.compile(r"^\$+|(?<!\\)\$+$")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°")
_INTEGER = re.compile(r"[+-]?\d+")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_SLASH = re.compile(r"([+-]?\d+)/(\d+)")
_FRAC = re.compile(r"([+-]?)\\[dt]?frac\s*\{\s*([+-]?\d+)\s*\}\s*\{\s*(\d+)\s*\}")
_FRAC_SHORT = re.compile(r"([+-]?)\\[dt]?frac(\d)(\d)")
_IRRATIONAL = re.compile(r"\\(?:sqrt|pi|log|ln|sin|cos|tan|exp)|\be\^")
_SPACE_OUTSIDE_WORDS = re.compile(r"(?<![A-Za-z])\s+|\s+(?![A-Za-z])")
_WORDS = re.compile(r"[A-Za-z][A-Za-z' -]*[A-Za-z]")
_PREFIX = re.compile(r"^[A-Za-z]\s*=\s*(?=[^=]+$)")


def grader_version() -> str:
    return f"rules-{RULES_VERSION}/math-verify-{version('math-verify')}"


def strip_latex_noise(text: str) -> str:
    """Remove spacing commands, $ delimiters, \\text{} wrappers and a trailing period."""
    out = normalize_answer(_MATH_DELIMITERS.sub("", text.strip()))
    out = _WRAPPERS.sub(r"\1", out)
    return out.strip().rstrip(".").strip()


def exact_number(text: str) -> Fraction | None:
    """The exact value of a plain rational answer, or None when it is anything else."""
    s = _PREFIX.sub("", "".join(strip_latex_noise(text).split()))
    s = _DEGREES.sub("", s)
    if s.startswith("(") and s.endswith(")") and "," not in s:
        s = s[1:-1]
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    if _INTEGER.fullmatch(s) or _DECIMAL.fullmatch(s):
        return Fraction(s)
    match = _SLASH.fullmatch(s)
    if match and int(match.group(2)) != 0:
        return Fraction(int(match.group(1)), int(match.group(2)))
    for pattern in (_FRAC, _FRAC_SHORT):
        match = pattern.fullmatch(s)
        if match and int(match.group(3)) != 0:
            value = Fraction(int(match.group(2)), int(match.group(3)))
            return -value if match.group(1) == "-" else value
    return None


def compact(text: str) -> str:
    """The answer without LaTeX noise or white space (except between two letters, as in words)."""
    return _SPACE_OUTSIDE_WORDS.sub("", strip_latex_noise(text))


_INFINITY = {"\\infty": "inf", "+\\infty": "inf", "-\\infty": "-inf", "\\infinity": "inf"}


def _exact_item(text: str) -> Fraction | str | None:
    if text in _INFINITY:
        return _INFINITY[text]
    return exact_number(text)


def exact_structure(text: str) -> tuple[str, tuple[Fraction | str, ...]] | None:
    """Tuples, intervals and sets whose items are all exact numbers (or infinities), else None.

    Returns (shape, items): shape is the bracket pair, e.g. '[)', and sets use '{}' with
    sorted, de-duplicated items, so equal structures compare equal.
    """
    s = compact(text)
    if s.startswith("\\{") and s.endswith("\\}"):
        inner, shape = s[2:-2], "{}"
    elif len(s) >= 2 and s[0] in "([" and s[-1] in ")]":
        inner, shape = s[1:-1], s[0] + s[-1]
    else:
        return None
    if not inner or any(c in inner for c in "()[]"):
        return None
    items = [_exact_item(part) for part in inner.split(",")]
    if any(item is None for item in items) or len(items) < (1 if shape == "{}" else 2):
        return None
    values = [item for item in items if item is not None]
    if shape == "{}":
        if any(isinstance(v, str) for v in values):
            return None
        return shape, tuple(sorted(set(values)))
    return shape, tuple(values)


def exact_percent(text: str) -> Fraction | None:
    """The number before a trailing ``\\%`` ("28\\%" -> 28), or None when there is no percent."""
    s = "".join(strip_latex_noise(text).split())
    return exact_number(s[:-2]) if s.endswith("\\%") else None


def _percent_match(gold: str, answer: str, gold_value: Fraction | None) -> MatchStatus | None:
    """28\\% equals 28\\% and also a bare 28 or 0.28; 0.28\\% is not 28\\% (both percent: as written)."""
    gold_percent, answer_percent = exact_percent(gold), exact_percent(answer)
    if gold_percent is None and answer_percent is None:
        return None
    if gold_percent is not None and answer_percent is not None:
        same = gold_percent == answer_percent
    elif gold_percent is not None:
        plain = exact_number(answer)
        if plain is None:
            return None
        same = plain in (gold_percent, gold_percent / 100)
    else:
        if gold_value is None or answer_percent is None:
            return None
        same = gold_value in (answer_percent, answer_percent / 100)
    return MatchStatus.MATCH if same else MatchStatus.NO_MATCH


_VARIABLE_PREFIX = re.compile(r"^([A-Za-z])=")


def _list_item(text: str) -> tuple[str, object] | None:
    """(variable prefix or "", exact value) of one list item, or None when it is not exact."""
    prefix = _VARIABLE_PREFIX.match(text)
    letter = prefix.group(1) if prefix else ""
    value: object = exact_number(text)
    if value is None:
        value = exact_structure(text[prefix.end() :] if prefix else text)
    return None if value is None else (letter, value)


def exact_list(text: str) -> tuple[str, frozenset[str], tuple[object, ...]] | None:
    """A bare list ("1, 2", "x=1,x=2", "(1,2),(3,4)") or a set of exact items, else None.

    Returns (kind, variable letters, items sorted): kind is "set" for ``\\{...\\}`` and
    "list" for a bare comma list; a bare list of solutions is unordered, as graders read it.
    """
    s = compact(text)
    if _THOUSANDS.fullmatch(s):
        return None
    kind = "list"
    if s.startswith("\\{") and s.endswith("\\}"):
        kind, s = "set", s[2:-2]
    parts = top_level_items(s)
    if len(parts) < (1 if kind == "set" else 2) or not all(parts):
        return None
    items = [_list_item(part) for part in parts]
    if any(item is None for item in items):
        return None
    pairs = [item for item in items if item is not None]
    letters = frozenset(letter for letter, _ in pairs if letter)
    return kind, letters, tuple(sorted((value for _, value in pairs), key=repr))


def _list_match(gold: str, answer: str) -> MatchStatus | None:
    gold_list = exact_list(gold)
    if gold_list is None:
        return None
    answer_list = exact_list(answer)
    if answer_list is None or len(gold_list[1] | answer_list[1]) > 1:
        return None  # items named by different variables are left to math-verify
    if "set" in (gold_list[0], answer_list[0]):
        same = set(map(repr, gold_list[2])) == set(map(repr, answer_list[2]))
    else:
        same = gold_list[2] == answer_list[2]
    return MatchStatus.MATCH if same else MatchStatus.NO_MATCH


def item_count(text: str) -> int:
    """How many answers ``text`` holds: the items of a set or bare list (1 for "1,000" or "(1,2)")."""
    s = compact(text)
    if _THOUSANDS.fullmatch(s):
        return 1
    if s.startswith("\\{") and s.endswith("\\}"):
        s = s[2:-2]
    return len(top_level_items(s))


@lru_cache(maxsize=4096)
def expects_several(gold: str) -> bool:
    """Does the gold answer hold several items (so several closing boxes may answer it)?"""
    return item_count(gold) > 1


def is_reduced(text: str) -> bool:
    """False when the answer writes a fraction that is not in lowest terms (e.g. 2/4)."""
    s = "".join(strip_latex_noise(text).split())
    for match in (*_SLASH.finditer(s), *_FRAC.finditer(s)):
        numbers = [int(g) for g in match.groups() if g and g.lstrip("+-").isdigit()]
        if len(numbers) >= 2 and math.gcd(numbers[-2], numbers[-1]) > 1:
            return False
    return True


def plain_words(text: str) -> str | None:
    """Lower-cased words when the answer is plain text (at least two letters), else None."""
    s = strip_latex_noise(text)
    if _WORDS.fullmatch(s):
        return " ".join(s.lower().replace("-", " ").split())
    return None


@lru_cache(maxsize=1)
def _latex_config() -> list[Any]:
    from math_verify import LatexExtractionConfig

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    return [LatexExtractionConfig(boxed_match_priority=0)]


@lru_cache(maxsize=8192)
def _parse(text: str) -> list[Any]:
    from math_verify import parse

    return list(parse("\\boxed{" + text + "}", extraction_config=_latex_config(), parsing_timeout=None))


def braces_balanced(text: str) -> bool:
    """Unescaped { and } pair up (a LaTeX answer with a dangling brace cannot be parsed)."""
    depth = 0
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _math_verify(gold: str, answer: str) -> MatchStatus:
    from math_verify import verify

    if not braces_balanced(gold):
        return MatchStatus.UNPARSEABLE_GOLD
    if not braces_balanced(answer):
        return MatchStatus.UNPARSEABLE_ANSWER
    gold_parsed = _parse(gold)
    if not gold_parsed:
        return MatchStatus.UNPARSEABLE_GOLD
    answer_parsed = _parse(answer)
    if not answer_parsed:
        return MatchStatus.UNPARSEABLE_ANSWER
    same = verify(gold_parsed, answer_parsed, timeout_seconds=None)
    return MatchStatus.MATCH if same else MatchStatus.NO_MATCH


def quick_compare(gold: str, answer: str, *, require_reduced: bool = False) -> MatchStatus | None:
    """Settle the pair without a symbolic parser when possible (guards, rationals, words)."""
    if rejection_reason(gold) is not None:
        return MatchStatus.REJECTED_GOLD
    if rejection_reason(answer) is not None:
        return MatchStatus.REJECTED_ANSWER
    if require_reduced and not is_reduced(answer):
        return MatchStatus.NO_MATCH
    if compact(answer) == compact(gold) and braces_balanced(gold):
        return MatchStatus.MATCH
    gold_value = exact_number(gold)
    if gold_value is not None:
        answer_value = exact_number(answer)
        if answer_value is not None:
            return MatchStatus.MATCH if answer_value == gold_value else MatchStatus.NO_MATCH
    percent = _percent_match(gold, answer, gold_value)
    if percent is not None:
        return percent
    if _IRRATIONAL.search(gold) and _DECIMAL.fullmatch("".join(strip_latex_noise(answer).split())):
        return MatchStatus.NO_MATCH  # a decimal approximation is not the exact irrational answer
    gold_structure = exact_structure(gold)
    if gold_structure is not None:
        answer_structure = exact_structure(answer)
        if answer_structure is not None:
            return MatchStatus.MATCH if answer_structure == gold_structure else MatchStatus.NO_MATCH
    listed = _list_match(gold, answer)
    if listed is not None:
        return listed
    gold_form = canonical_form(compact(gold))
    if gold_form is not None:
        answer_form = canonical_form(compact(answer))
        if answer_form is not None and variables(answer_form) == variables(gold_form):
            return MatchStatus.MATCH if answer_form == gold_form else MatchStatus.NO_MATCH
    gold_words = plain_words(gold)
    if gold_words is not None:
        return MatchStatus.MATCH if plain_words(answer) == gold_words else MatchStatus.NO_MATCH
    answer_words = plain_words(answer)
    if answer_words is not None and _words_cannot_match(answer_words, gold_value, gold_structure, gold_form):
        return MatchStatus.NO_MATCH
    return None


def _words_cannot_match(
    words: str,
    value: Fraction | None,
    structure: tuple[str, tuple[Fraction | str, ...]] | None,
    form: frozenset[Any] | None,
) -> bool:
    """Words never equal a number, interval or set of numbers, nor a polynomial in other letters."""
    if value is not None or structure is not None:
        return True
    return form is not None and not set(words.replace(" ", "")) <= variables(form)


def compare(gold: str, answer: str, *, require_reduced: bool = False) -> MatchStatus:
    """Full comparison: the quick layers, then math-verify. Run this inside a worker process."""
    quick = quick_compare(gold, answer, require_reduced=require_reduced)
    if quick is not None:
        return quick
    return _math_verify(gold, answer)


def warm_up() -> None:
    """Import math-verify and its grammar so forked workers start ready."""
    compare("\\frac{1}{2}", "x+1")
