"""Prompt templates: the question (and its options) filled into our own wording.

A template is plain text with ``{question}`` and optionally ``{options}`` (the choices,
one per line as "A. text"). Built-in presets: ``default`` (English), ``zh`` (Chinese),
``livemathbench``, which follows the published protocol (reason step by step, put the
final answer in \\boxed{}) in English or Chinese according to the problem's language,
and ``brief`` (one short line ending "The answer is N.", shown by three worked examples),
which tiny models such as the bundled 135M follow far more often than a request for \\boxed{}.
``auto`` (the CLI's default) is ``livemathbench`` for LiveMathBench (the Hub dataset, or local
files with its fields) and ``default`` for everything else; the manifest records the preset used.
A user's template comes from a file (``--prompt path/to/template.txt``).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

from surestep.data.problems import Problem, is_livemathbench
from surestep.errors import InputError

EN = (
    "Solve the following math problem. Work through it step by step, then give only the "
    "final answer inside \\boxed{{}}.\n\n{question}{options}"
)
# Few-shot: three worked examples of the reply wanted. Their questions are not phrased like the
# demo's ("How much is", not "What is") and their answers (9, 11, 15) are no demo answer, so a
# model that copies an example is graded wrong, never right by accident.
BRIEF = (
    'Answer in one short line that ends with "The answer is <number>.", as in these examples.\n'
    "Q: How much is 6 + 3?\n"
    "A: 6 + 3 = 9. The answer is 9.\n"
    "Q: Jo had 20 cards and lost 9. How many cards are left?\n"
    "A: 20 - 9 = 11. The answer is 11.\n"
    "Q: How much is 5 times 3?\n"
    "A: 5 times 3 is 15. The answer is 15.\n"
    "Q: {question}{options}"
)
ZH = "请解答下面的数学题。请逐步推理，最后只把最终答案写在 \\boxed{{}} 中。\n\n{question}{options}"
EN_OPTIONS = "\n\nChoices:\n{lines}\n\nAnswer with the letter of the correct choice."
ZH_OPTIONS = "\n\n选项：\n{lines}\n\n请用正确选项的字母作答。"

_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class PromptTemplate:
    """A named template; ``chinese`` is used for Chinese problems when set (bilingual presets)."""

    name: str
    text: str
    chinese: str | None = None

    def render(self, problem: Problem) -> str:
        zh = self.chinese is not None and is_chinese(problem)
        template = self.chinese if zh and self.chinese is not None else self.text
        options = ""
        if problem.options:
            lines = "\n".join(f"{letter}. {text}" for letter, text in problem.options.items())
            options = (ZH_OPTIONS if zh or template is ZH else EN_OPTIONS).format(lines=lines)
        return template.format(question=problem.question, options=options)

    def identity(self) -> dict[str, str | None]:
        return {"name": self.name, "text": self.text, "chinese": self.chinese}


def is_chinese(problem: Problem) -> bool:
    subset = (problem.subset or "").lower()
    if subset.endswith(("_cn", "_zh")):
        return True
    if subset.endswith("_en"):
        return False
    return bool(_CJK.search(problem.question))


PRESETS = {
    "default": PromptTemplate("default", EN),
    "zh": PromptTemplate("zh", ZH),
    "livemathbench": PromptTemplate("livemathbench", EN, chinese=ZH),
    "brief": PromptTemplate("brief", BRIEF),
}


AUTO = "auto"


def load_template(spec: str, dataset: str | None = None) -> PromptTemplate:
    """A preset, ``auto`` (picked for ``dataset``), or a file with {question} (and optionally {options})."""
    if spec == AUTO:
        return PRESETS["livemathbench" if dataset is not None and is_livemathbench(dataset) else "default"]
    if spec in PRESETS:
        return PRESETS[spec]
    path = Path(spec)
    if not path.is_file():
        raise InputError(f"not a prompt preset ({', '.join([*PRESETS, AUTO])}) nor a file", path=spec)
    text = path.read_text(encoding="utf-8")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise InputError(
            f"bad braces in the template ({exc}); write literal braces as {{{{ and }}}}", path=path
        ) from None
    if "question" not in names:
        raise InputError("the template has no {question} placeholder", path=path)
    unknown = names - {"question", "options"}
    if unknown:
        raise InputError(
            f"unknown placeholder(s) {', '.join('{' + n + '}' for n in sorted(unknown))}; "
            "write literal braces as {{ and }}",
            path=path,
        )
    return PromptTemplate(f"file:{path.name}", text)
