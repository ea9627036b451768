"""Shards of one run (``--shard i/N``): each a full run directory over a fixed part of the problems.

For Slurm array jobs and other schedulers without Ray: task i of N runs ``--shard i/N`` into
its own directory, and ``surestep merge`` combines the N directories into the run one job
would have made. Shard i holds the problems (or PRMBench instances) at positions p with
p mod N = i, so shards differ in size by at most one and each takes a spread of the data
(not the first or last subsets alone); its manifest records the shard, and everything that
decides the draws (model, sampling, seed, prompt, the whole dataset's hash) is the same as
in one unsharded run, so the merged draws, seeds and config keys are those of that run.

A shard directory is resumed only as the same shard, and a whole run never as a shard.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from surestep.errors import SurestepError

MANIFEST = "manifest.json"
RULE = "position mod count == index"
T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based), holding the items at positions p with p mod count == index."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise SurestepError(f"shard {self.index}/{self.count}: expected 0 <= i < N with N >= 1")

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    def positions(self, total: int) -> range:
        """The positions this shard holds among ``total`` items."""
        return range(self.index, total, self.count)

    def select(self, items: Sequence[T]) -> list[T]:
        """This shard's items, in data order."""
        return [items[p] for p in self.positions(len(items))]

    def size(self, total: int) -> int:
        return len(self.positions(total))

    def to_json(self, total: int) -> dict[str, Any]:
        """The manifest's ``shard`` record; ``of`` is the number of items in the whole run."""
        return {"index": self.index, "count": self.count, "rule": RULE, "of": total}

    @classmethod
    def from_json(cls, record: Any, where: str) -> Shard:
        """The shard a manifest records; errors name ``where``."""
        try:
            return cls(int(record["index"]), int(record["count"]))
        except (KeyError, TypeError, ValueError):
            raise SurestepError(f"{where}: malformed shard record {json.dumps(record)}") from None


def parse_shard(text: str) -> Shard:
    """``"i/N"`` (0 <= i < N; Slurm: ``$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT``)."""
    index, sep, count = text.partition("/")
    try:
        if not sep:
            raise ValueError
        return Shard(int(index), int(count))
    except (ValueError, SurestepError):
        raise SurestepError(f"--shard {text!r}: expected i/N with 0 <= i < N, e.g. 0/4") from None


def read_manifest_file(directory: Path) -> dict[str, Any] | None:
    """A run directory's ``manifest.json`` (stability or PRM run), or None where there is none yet."""
    path = directory / MANIFEST
    if not path.is_file():
        return None
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise SurestepError(f"{path}: unreadable manifest ({exc})") from None


def recorded_shard(manifest: Mapping[str, Any] | None, where: str) -> Shard | None:
    """The shard a manifest records (None: a whole run, or no manifest)."""
    record = None if manifest is None else manifest.get("shard")
    return None if record is None else Shard.from_json(record, where)


def check_shard(directory: Path, shard: Shard | None) -> None:
    """Refuse to resume a shard directory as another shard or as a whole run, and the other way round."""
    manifest = read_manifest_file(directory)
    if manifest is None:
        return
    recorded = recorded_shard(manifest, str(directory / MANIFEST))
    if recorded == shard:
        return
    if recorded is None:
        assert shard is not None
        raise SurestepError(
            f"{directory} holds a whole run; --shard {shard.label} needs a directory of its own"
        )
    if shard is None:
        raise SurestepError(
            f"{directory} is shard {recorded.label} of a run: resume it with --shard {recorded.label}, "
            "or combine the shards first (surestep merge SHARD_DIR... --out DIR)"
        )
    raise SurestepError(
        f"{directory} is shard {recorded.label}, not {shard.label}; use another --out directory"
    )
