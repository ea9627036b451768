"""Find the final answer in a model response.

Rules, in order: the last ``\\boxed{...}`` / ``\\fbox{...}`` with balanced braces; else the
last of "the final answer is ...", "Answer: ...", Chinese "答案是 / 最终答案 ..."; else, for
multiple-choice problems, an option letter. No match is "no answer", never the whole text.
Every scan is linear in the response length (no backtracking-prone patterns).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from surestep.grading.records import Extraction, Rule

# Fallback phrases are looked for only near the end: final answers are stated last,
# and this bounds the regex work on megabyte-long responses.
_TAIL_CHARS = 4000

_PHRASES: tuple[tuple[Rule, re.Pattern[str]], ...] = (
    (Rule.FINAL_ANSWER_PHRASE, re.compile(r"(?:final answer|the answer) is\s*:?[ \t]*([^\n]+)", re.I)),
    (
        Rule.ANSWER_LABEL,
        re.compile(r"^[ \t*#]*(?:final[ \t]+)?answer[ \t*]*[:：][ \t*]*([^\n]+)", re.I | re.M),
    ),
    (Rule.CHINESE_ANSWER, re.compile(r"(?:最终答案|答案)[ \t]*(?:是|为|:|：)[ \t]*[:：]?[ \t]*([^\n]+)")),
)
_CHOICE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?:answer|option|choice)(?: is)?[ \t]*:?[ \t]*\(?([A-J])\)?(?![A-Za-z])", re.I),
    re.compile(r"选(?:项|择)?[ \t]*[:：]?[ \t]*\(?([A-J])\)?"),
    re.compile(r"\(([A-J])\)"),
)
_SENTENCE_END = re.compile(r"(?:\.\s|。|\s-\s|;\s)")
_DANGLING_BOX = re.compile(r"^\$?\\(?:boxed|fbox)\s*\{")  # "\boxed{12" cut off before its brace
_LETTER = re.compile(r"^\(?([A-Ja-j])\)?[.:]?$")


def _balanced_group(text: str, start: int) -> tuple[str, int] | None:
    """The content of the brace group opening at ``text[start] == '{'``, and its end index."""
    depth = 0
    i = start
    length = len(text)
    while i < length:
        char = text[i]
        if char == "\\":
            i += 2  # an escaped character such as \{ or \} does not open or close a group
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i
        i += 1
    return None


def _boxed_argument(text: str, command_end: int) -> str | None:
    """The argument after ``\\boxed``: a balanced {...} group, or one bare token."""
    i = command_end
    while i < len(text) and text[i] == " ":
        i += 1
    if i < len(text) and text[i] == "{":
        group = _balanced_group(text, i)
        return None if group is None else group[0]
    if i > command_end:  # "\boxed 5": the next token up to white space or a dollar sign
        match = re.match(r"[^\s$]+", text[i:])
        return match.group(0) if match else None
    return None


def last_boxed(text: str) -> tuple[str, Rule] | None:
    """The last complete ``\\boxed``/``\\fbox`` argument, scanning backwards past broken ones."""
    end = len(text)
    while True:
        positions = [(text.rfind(cmd, 0, end), cmd) for cmd in ("\\boxed", "\\fbox")]
        start, command = max(positions)
        if start < 0:
            return None
        argument = _boxed_argument(text, start + len(command))
        if argument is not None:
            return argument, Rule.BOXED if command == "\\boxed" else Rule.FBOX
        end = start


def clean_answer(raw: str) -> str:
    """Trim a phrase-extracted answer: first sentence, no surrounding $, **, or final period."""
    text = raw.strip()
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed[0].strip()
    cut = _SENTENCE_END.search(text)
    if cut is not None:
        text = text[: cut.start()]
    text = _DANGLING_BOX.sub("", text.strip().strip("*").strip())
    if text.startswith("$") and text.endswith("$") and len(text) > 1:
        text = text.strip("$")
    elif text[:2] in ("\\(", "\\[") and text[-2:] in ("\\)", "\\]"):
        text = text[2:-2]
    return text.strip().rstrip(".。").strip()


def _last_phrase(tail: str) -> tuple[str, Rule] | None:
    best: tuple[int, str, Rule] | None = None
    for rule, pattern in _PHRASES:
        for match in pattern.finditer(tail):
            if best is None or match.start() >= best[0]:
                best = (match.start(), match.group(1), rule)
    if best is None:
        return None
    answer = clean_answer(best[1])
    return (answer, best[2]) if answer else None


def option_letter(answer: str, options: Mapping[str, str]) -> str | None:
    """'(B)' / 'b' / 'B.' -> 'B' when B is one of the options."""
    match = _LETTER.match(answer.strip())
    if match is None:
        return None
    letter = match.group(1).upper()
    return letter if letter in options else None


def _choice_from_text(tail: str, options: Mapping[str, str]) -> str | None:
    stripped = tail.strip()
    alone = option_letter(stripped, options) if len(stripped) <= 4 else None
    if alone is not None:
        return alone
    for pattern in _CHOICE_PATTERNS:
        letters = [m.group(1).upper() for m in pattern.finditer(tail)]
        letters = [letter for letter in letters if letter in options]
        if letters:
            return letters[-1]
    return None


def extract_answer(response: str, options: Mapping[str, str] | None = None) -> Extraction:
    """The final answer of ``response`` and the rule that found it."""
    boxed = last_boxed(response)
    if boxed is not None and boxed[0].strip():
        answer, rule = boxed[0].strip(), boxed[1]
    else:
        tail = response[-_TAIL_CHARS:]
        phrase = _last_phrase(tail)
        if phrase is not None:
            answer, rule = phrase
        elif options:
            letter = _choice_from_text(tail, options)
            return Extraction(letter, Rule.CHOICE_LETTER if letter else Rule.NONE)
        else:
            return Extraction(None, Rule.NONE)
    if options:
        letter = option_letter(answer, options)
        if letter is not None:
            return Extraction(letter, rule)
    return Extraction(answer, rule)


def normalize_options(raw: object) -> dict[str, str] | None:
    """Options as {'A': text, ...} from a list (lettered in order) or a letter-keyed mapping."""
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        return {str(k).strip().upper(): str(v) for k, v in raw.items()}
    if isinstance(raw, (list, tuple)):
        letters = "ABCDEFGHIJ"
        if len(raw) > len(letters):
            raise ValueError(f"at most {len(letters)} options are supported, got {len(raw)}")
        out: dict[str, str] = {}
        for letter, text in zip(letters, raw):
            match = re.match(r"^\(?([A-J])[).:]\s*(.*)$", str(text), re.S)
            out[letter] = match.group(2) if match and match.group(1) == letter else str(text)
        return out
    raise ValueError(f"options must be a list or an object, got {type(raw).__name__}")
