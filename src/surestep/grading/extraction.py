"""Find the final answer in a model response.

Precedence: the **last explicit final-answer statement** wins, whatever its form: a
complete ``\\boxed{...}`` / ``\\fbox{...}``, "the final answer is ...", a "Final Answer:"
label (anywhere) or an "Answer:" / "Answer $...$" label at a line start, Chinese
"最终答案 / 答案是 ...". The weaker "the answer is ..." counts only when the response has no
box. For multiple-choice problems an option letter is the last resort. No match is "no
answer", never the whole text (unless the opt-in prose fallback is on).

When the gold has several items, the response's closing boxes (boxes separated only by
short connecting text) are read together, so ``\\boxed{-2} and \\boxed{1}`` is ``-2, 1``.
A phrase's sentence is reduced to its mathematical part: "The largest $n$ is 34." is 34.
Every scan is linear in the response length (no backtracking-prone patterns).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from surestep.grading.normalize import top_level_items
from surestep.grading.records import Extraction, Rule

# Phrases are looked for only near the end: final answers are stated last,
# and this bounds the regex work on megabyte-long responses.
_TAIL_CHARS = 4000
# Closing boxes read together: at most this many, each gap at most this many characters.
_MAX_CLOSING_BOXES = 16
_MAX_BOX_GAP = 80


@dataclass(frozen=True)
class _Phrase:
    rule: Rule
    pattern: re.Pattern[str]
    explicit: bool  # an explicit statement overrides an earlier box


_PHRASES: tuple[_Phrase, ...] = (
    _Phrase(Rule.FINAL_ANSWER_PHRASE, re.compile(r"final answer is\s*:?\s*([^\n]+)", re.I), True),
    _Phrase(Rule.FINAL_ANSWER_PHRASE, re.compile(r"the answer is\s*:?[ \t]*([^\n]+)", re.I), False),
    _Phrase(
        Rule.ANSWER_LABEL,
        re.compile(r"^[ \t*#>-]*(?:final[ \t]+)?answer[ \t*]*(?:[:：]|(?=[ \t]*\$))\s*([^\n]+)", re.I | re.M),
        True,
    ),
    _Phrase(Rule.ANSWER_LABEL, re.compile(r"final[ \t]+answer[ \t*]*[:：]\s*([^\n]+)", re.I), True),
    _Phrase(
        Rule.CHINESE_ANSWER,
        re.compile(r"(?:最终答案|答案)[ \t]*(?:是|为|:|：)[ \t]*[:：]?[ \t]*([^\n]+)"),
        True,
    ),
)
_CHOICE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?:answer|option|choice)(?: is)?[ \t]*:?[ \t]*\(?([A-J])\)?(?![A-Za-z])", re.I),
    re.compile(r"选(?:项|择)?[ \t]*[:：]?[ \t]*\(?([A-J])\)?"),
    re.compile(r"\(([A-J])\)"),
)
_SENTENCE_END = re.compile(r"(?:\.\s|。|\s-\s|;\s)")
_DANGLING_BOX = re.compile(r"^\$?\\(?:boxed|fbox)\s*\{")  # "\boxed{12" cut off before its brace
_LETTER = re.compile(r"^\(?([A-Ja-j])\)?[.:]?$")
# "The largest $n$ is 34": the statement's value follows its first verb
_VERB = re.compile(r"\s(?:is|are|equals|was|will be|would be|should be)\s+", re.I)
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]")
_TRAILING_CLAUSE = re.compile(
    r"[ \t]*,?[ \t]+(?:because|since|which|as|so|where|for|when|and this|and that)\s.*$", re.I
)
_COMMAND_OR_MATH = re.compile(r"\\[A-Za-z]+|\$[^$]*\$")
_WORD = re.compile(r"[A-Za-z]{3,}")
_HAS_MATH = re.compile(r"[\d\\=^_+*/(){}\[\]<>]")
_PROSE_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:/\d+)?")


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


def _boxes_backwards(text: str) -> Iterator[tuple[int, int, str, Rule]]:
    """Complete ``\\boxed``/``\\fbox`` arguments from the last one back: (start, end, argument, rule)."""
    end = len(text)
    while True:
        positions = [(text.rfind(cmd, 0, end), cmd) for cmd in ("\\boxed", "\\fbox")]
        start, command = max(positions)
        if start < 0:
            return
        command_end = start + len(command)
        argument = _boxed_argument(text, command_end)
        if argument is not None:
            rule = Rule.BOXED if command == "\\boxed" else Rule.FBOX
            yield start, _argument_end(text, command_end, argument), argument, rule
        end = start


def _argument_end(text: str, command_end: int, argument: str) -> int:
    """Index just past the argument found by :func:`_boxed_argument`."""
    i = command_end
    while i < len(text) and text[i] == " ":
        i += 1
    return i + len(argument) + (2 if i < len(text) and text[i] == "{" else 0)


def last_boxed(text: str) -> tuple[str, Rule] | None:
    """The last complete ``\\boxed``/``\\fbox`` argument, scanning backwards past broken ones."""
    for _, _, argument, rule in _boxes_backwards(text):
        return argument, rule
    return None


def closing_boxes(text: str) -> list[str]:
    """The response's closing boxes, in order: the last box and those just before it.

    Boxes belong together when the text between two of them is short (at most 80
    characters: "and", "or", "$, $", a line break, "x = "); a box that is far from the
    next one is an intermediate result and ends the group.
    """
    group: list[str] = []
    next_start = -1
    for start, end, argument, _ in _boxes_backwards(text):
        if not argument.strip():
            break
        if group and next_start - end > _MAX_BOX_GAP:
            break
        group.append(argument.strip())
        next_start = start
        if len(group) == _MAX_CLOSING_BOXES:
            break
    return group[::-1]


def _mathematical_part(text: str) -> str:
    """The value a final-answer sentence states: "The largest $n$ is 34" -> "34"."""
    if not _WORD.search(_COMMAND_OR_MATH.sub(" ", text)):
        return text
    text = _TRAILING_CLAUSE.sub("", text).strip()
    verb = _VERB.search(text)
    if verb is not None and _WORD.search(_COMMAND_OR_MATH.sub(" ", text[: verb.start()])):
        text = _TRAILING_CLAUSE.sub("", text[verb.end() :]).strip()
    spans = list(_MATH_SPAN.finditer(text))
    if spans and _WORD.search(_COMMAND_OR_MATH.sub(" ", _MATH_SPAN.sub(" ", text))):
        last = spans[-1]
        return next(group for group in last.groups() if group is not None)
    return text


def _first_sentence(text: str) -> str:
    """``text`` up to its first sentence end outside ``$...$`` math ("$x^2 - 4$" is not cut)."""
    for cut in _SENTENCE_END.finditer(text):
        if text.count("$", 0, cut.start()) % 2 == 0:
            return text[: cut.start()]
    return text


def clean_answer(raw: str) -> str:
    """Trim a phrase-extracted answer: first sentence, its mathematical part, no $, ** or period."""
    text = raw.strip()
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed[0].strip()
    text = _first_sentence(text)
    text = _DANGLING_BOX.sub("", text.strip().strip("*").strip())
    text = _mathematical_part(text.rstrip(".。").strip()).strip()
    if text.startswith("$") and text.endswith("$") and len(text) > 1:
        text = text.strip("$")
    elif text[:2] in ("\\(", "\\[") and text[-2:] in ("\\)", "\\]"):
        text = text[2:-2]
    return text.strip().rstrip(".。").strip()


def _last_phrase(tail: str, *, explicit_only: bool) -> tuple[int, str, Rule] | None:
    """The last final-answer phrase in ``tail``: (start, cleaned answer, rule)."""
    best: tuple[int, str, Rule] | None = None
    for phrase in _PHRASES:
        if explicit_only and not phrase.explicit:
            continue
        for match in phrase.pattern.finditer(tail):
            if best is None or match.start() >= best[0]:
                best = (match.start(), match.group(1), phrase.rule)
    if best is None:
        return None
    answer = clean_answer(best[1])
    return (best[0], answer, best[2]) if answer else None


def _prose_answer(tail: str) -> str | None:
    """Opt-in fallback: the last formula or number of the closing sentence."""
    sentences = [s for s in re.split(r"(?<=[.!?。])\s+|\n+", tail.strip()) if s.strip()]
    if not sentences:
        return None
    closing = sentences[-1]
    spans = list(_MATH_SPAN.finditer(closing))
    if spans:
        return next(group for group in spans[-1].groups() if group is not None).strip() or None
    numbers = _PROSE_NUMBER.findall(closing)
    return numbers[-1].rstrip(",") if numbers else None


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


def extract_answer(
    response: str,
    options: Mapping[str, str] | None = None,
    *,
    several: bool = False,
    prose_fallback: bool = False,
) -> Extraction:
    """The final answer of ``response`` and the rule that found it.

    ``several``: the gold has several items, so closing boxes are read together.
    ``prose_fallback``: with no box or phrase, take the closing sentence's last formula
    or number (off by default: it turns unfinished reasoning into answers).
    """
    found = _final_statement(response, several=several)
    if found is None:
        tail = response[-_TAIL_CHARS:]
        if options:
            letter = _choice_from_text(tail, options)
            return Extraction(letter, Rule.CHOICE_LETTER if letter else Rule.NONE)
        prose = _prose_answer(tail) if prose_fallback else None
        return Extraction(prose, Rule.PROSE_FALLBACK) if prose else Extraction(None, Rule.NONE)
    answer, rule = found
    if options:
        letter = option_letter(answer, options)
        if letter is not None:
            return Extraction(letter, rule)
    return Extraction(answer, rule)


def _final_statement(response: str, *, several: bool) -> tuple[str, Rule] | None:
    """The last explicit final-answer statement (a box or a phrase), else a weak phrase."""
    box = next((b for b in _boxes_backwards(response) if b[2].strip()), None)
    # only a phrase after the last box can override it, so only that part is searched
    region_start = max(len(response) - _TAIL_CHARS, box[0] + 1 if box is not None else 0)
    phrase = _last_phrase(response[region_start:], explicit_only=box is not None)
    if phrase is not None and box is not None and not _HAS_MATH.search(phrase[1]):
        phrase = None  # "Final Answer: see above" after a box is commentary, not a new answer
    if box is not None and phrase is None:
        if several:
            group = closing_boxes(response)
            if len(group) > 1 and all(len(top_level_items(item)) == 1 for item in group):
                return ", ".join(group), Rule.BOXED_SEVERAL
        return box[2].strip(), box[3]
    if phrase is not None:
        return phrase[1], phrase[2]
    return None


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
