"""The steps of a free-form solution, for scoring sampled draws with a PRM (``surestep bon``).

One rule, used both to build the PRM's input and to count a draw's steps:

* when lines of the draw start with a step marker (``Step 1:``, ``**Step 2.**``, ``## Step 3:``,
  any case), each marker starts a step, and any text before the first marker is a step of its
  own;
* otherwise the draw is split at blank lines (a line holding only whitespace counts as blank).

Steps are stripped of surrounding whitespace and empty ones are dropped; a draw with no text at
all is one empty step, so that every draw gets a score.
"""

from __future__ import annotations

import itertools
import re

_MARKER = re.compile(
    r"^[ \t]*(?:[#*>]+[ \t]*)*step[ \t]*\d+[ \t]*\**[ \t]*[:.)]", re.IGNORECASE | re.MULTILINE
)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def split_steps(text: str) -> tuple[str, ...]:
    """The steps of ``text`` (see the module docstring)."""
    starts = [match.start() for match in _MARKER.finditer(text)]
    if starts:
        bounds = [0, *starts, len(text)]
        pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    else:
        pieces = _BLANK_LINE.split(text)
    steps = tuple(piece.strip() for piece in pieces if piece.strip())
    return steps or ("",)
