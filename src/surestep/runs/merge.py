"""``surestep merge``: the N shard directories of one run (``--shard i/N``) combined into one.

Works on stability runs (``run.sqlite``) and PRM runs (``predictions.sqlite``). Before anything
is written it checks that the directories are shards 0..N-1 of one run, each given once, and
that their manifests agree on everything but the shard (what ran the model, ``engines``, and
the surestep version are kept from all of them). Rows are copied as they are (draws with
their seeds and grades, or predictions); a draw or instance in two shards is refused. The
merged directory is built beside ``--out`` and renamed into place, so it appears whole or not
at all. It holds no shard: running ``surestep run`` (or ``prm run``) on it with the same
settings fills in whatever the shards had not finished.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surestep.errors import SurestepError
from surestep.runs.shards import MANIFEST, Shard, read_manifest_file, recorded_shard

RUN_DATABASE = "run.sqlite"
PRM_DATABASE = "predictions.sqlite"
PRM_PREDICTIONS = "predictions.jsonl"
MAY_DIFFER = frozenset({"shard", "problems", "engines", "surestep_version", "invocation"})
"""Manifest fields shards may disagree on: the shard itself, its size, what ran it, the version,
the command that made it (a merged run records none: it is whole, with nothing to resume)."""


@dataclass(frozen=True)
class MergeSummary:
    """What a merge wrote: ``items`` problems or instances, ``rows`` draws or predictions.

    ``missing``: draws (sampled and greedy, up to the run's n) or instances not there yet; running
    the same ``surestep run`` / ``prm run`` on the merged directory makes only those.
    """

    kind: str  # "run" or "prm"
    out: Path
    shards: int
    items: int
    rows: int
    grades: int
    missing: int

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "out": str(self.out)}


@dataclass(frozen=True)
class _Source:
    directory: Path
    shard: Shard
    manifest: dict[str, Any]


def merge_shards(sources: Sequence[Path], out: Path) -> MergeSummary:
    """Check that ``sources`` are the shards of one run and write them, merged, to ``out``."""
    kind = _kind(sources)
    _check_destination(out, sources)
    shards = _ordered_shards([_source(path, kind) for path in sources])
    manifest = _merged_manifest(shards)
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.merging-", dir=out.parent))
    try:
        if kind == "run":
            summary = _merge_runs(shards, manifest, building)
        else:
            summary = _merge_predictions(shards, manifest, building)
        _move_into_place(building, out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return MergeSummary(kind, out, len(shards), *summary)


# --- checks ---------------------------------------------------------------------------------------


def _kind(sources: Sequence[Path]) -> str:
    """ "run" or "prm", the same for every directory."""
    if not sources:
        raise SurestepError("merge: name the shard directories to combine")
    kinds = {}
    for path in sources:
        if (path / RUN_DATABASE).is_file():
            kinds[path] = "run"
        elif (path / PRM_DATABASE).is_file():
            kinds[path] = "prm"
        else:
            raise SurestepError(f"{path}: not a run directory (no {RUN_DATABASE} or {PRM_DATABASE})")
    if len(set(kinds.values())) > 1:
        listed = ", ".join(f"{path} ({kind})" for path, kind in kinds.items())
        raise SurestepError(f"merge: stability runs and PRM runs cannot be mixed: {listed}")
    return next(iter(kinds.values()))


def _check_destination(out: Path, sources: Sequence[Path]) -> None:
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise SurestepError(f"--out {out}: exists and is not an empty directory; merge writes a new one")
    if any(out.resolve() == path.resolve() for path in sources):
        raise SurestepError(f"--out {out}: is one of the shards")


def _source(directory: Path, kind: str) -> _Source:
    if kind == "run":
        manifest = _run_manifest(directory)
    else:
        found = read_manifest_file(directory)
        if found is None:
            raise SurestepError(f"{directory}: no {MANIFEST}")
        manifest = found
    shard = recorded_shard(manifest, str(directory / MANIFEST))
    if shard is None:
        raise SurestepError(f"{directory}: not a shard (its manifest records none; made without --shard)")
    return _Source(directory, shard, manifest)


def _run_manifest(directory: Path) -> dict[str, Any]:
    """A stability run's manifest as its store holds it (opened read-only)."""
    with closing(_read_only(directory / RUN_DATABASE)) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'manifest'").fetchone()
    if row is None:
        raise SurestepError(f"{directory}: run has no manifest")
    return dict(json.loads(row[0]))


def _ordered_shards(sources: Sequence[_Source]) -> list[_Source]:
    """The sources by shard index, refusing mixed counts, a shard given twice, and missing shards."""
    counts = {source.shard.count for source in sources}
    if len(counts) > 1:
        listed = ", ".join(f"{s.directory} ({s.shard.label})" for s in sources)
        raise SurestepError(f"merge: shards of different splits: {listed}")
    count = counts.pop()
    by_index: dict[int, _Source] = {}
    for source in sources:
        earlier = by_index.get(source.shard.index)
        if earlier is not None:
            raise SurestepError(
                f"merge: shard {source.shard.label} is given twice: "
                f"{earlier.directory} and {source.directory}"
            )
        by_index[source.shard.index] = source
    missing = [f"{i}/{count}" for i in range(count) if i not in by_index]
    if missing:
        raise SurestepError(f"merge: missing shard{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    return [by_index[i] for i in range(count)]


def _merged_manifest(shards: Sequence[_Source]) -> dict[str, Any]:
    """The first shard's manifest without the shard, once every shard agrees with it."""
    from surestep import __version__

    first = shards[0]
    for other in shards[1:]:
        names = sorted((set(first.manifest) | set(other.manifest)) - MAY_DIFFER)
        changed = [name for name in names if first.manifest.get(name) != other.manifest.get(name)]
        if changed:
            lines = [
                f"  {name}: {first.shard.label} has {json.dumps(first.manifest.get(name))}, "
                f"{other.shard.label} has {json.dumps(other.manifest.get(name))}"
                for name in changed
            ]
            raise SurestepError(
                "\n".join(
                    [f"merge: {other.directory} is not a shard of the same run as {first.directory}:", *lines]
                )
            )
    merged = {k: v for k, v in first.manifest.items() if k not in ("shard", "invocation")}
    merged["surestep_version"] = __version__
    engines = _merged_engines(shard.manifest.get("engines") for shard in shards)
    if engines:
        merged["engines"] = engines
    return merged


def _merged_engines(lists: Any) -> list[dict[str, Any]]:
    """Every shard's engine records, each distinct (server, report) once with its earliest first_seen."""
    merged: dict[str, dict[str, Any]] = {}
    for records in lists:
        for record in records or ():
            key = json.dumps([record.get("server"), record.get("reported")], sort_keys=True)
            kept = merged.get(key)
            if kept is None or str(record.get("first_seen", "")) < str(kept.get("first_seen", "")):
                merged[key] = dict(record)
    return sorted(merged.values(), key=lambda r: (str(r.get("first_seen", "")), str(r.get("server"))))


def _total(shards: Sequence[_Source]) -> int:
    """Items in the whole run, as the shards record it (they must agree)."""
    totals = {int(s.manifest["shard"].get("of", -1)) for s in shards}
    if len(totals) != 1 or min(totals) < 0:
        raise SurestepError("merge: the shards disagree on how many items the whole run has")
    return totals.pop()


# --- stability runs -------------------------------------------------------------------------------


def _merge_runs(
    shards: Sequence[_Source], manifest: dict[str, Any], building: Path
) -> tuple[int, int, int, int]:
    """Problems in data order, then every shard's draws, grades and audit answers."""
    from surestep.runs.manifest import GREEDY, SAMPLE
    from surestep.runs.store import RunStore

    total = _total(shards)
    placed: dict[int, tuple[Any, str]] = {}
    owner: dict[str, Path] = {}
    phases: dict[str, list[tuple[float, int]]] = {}
    audits = []
    for source in shards:
        with RunStore(source.directory) as store:
            problems = store.problems()
            for phase, entry in store.phase_times().items():
                phases.setdefault(phase, []).append(entry)
            audits.append(store.audit_settings())
        expected = source.shard.size(total)
        if len(problems) != expected:
            raise SurestepError(
                f"{source.directory}: shard {source.shard.label} of {total} problems should hold "
                f"{expected}, holds {len(problems)}"
            )
        for local, (problem, prompt) in enumerate(problems):
            if problem.id in owner:
                raise SurestepError(
                    f"merge: problem {problem.id!r} is in both {owner[problem.id]} and {source.directory}"
                )
            owner[problem.id] = source.directory
            placed[source.shard.index + local * source.shard.count] = (problem, prompt)
    manifest["problems"] = total
    with RunStore(building, create=True) as merged:
        ordered = [placed[position] for position in range(total)]
        merged.save_problems([p for p, _ in ordered], [prompt for _, prompt in ordered])
        merged.save_manifest(manifest)
        for phase, entries in phases.items():
            for seconds, draws in entries:
                merged.add_phase_time(phase, seconds, draws)
        if audits[0] is not None and all(a == audits[0] for a in audits):
            merged.save_audit_settings(audits[0])
    copied = {table: 0 for table in ("draws", "grades", "audit")}
    for source in shards:
        for table in copied:
            copied[table] += _copy_table(building / RUN_DATABASE, source.directory / RUN_DATABASE, table)
    with RunStore(building) as merged:
        n = int(manifest["n"])
        have = sum(
            sum(1 for i in indices if i < n)
            for indices in merged.draw_indices(manifest["configs"][SAMPLE]).values()
        )
        greedy = len(merged.draw_indices(manifest["configs"][GREEDY])) if manifest.get("greedy") else 0
    missing = total * n - have + (total - greedy if manifest.get("greedy") else 0)
    return total, copied["draws"], copied["grades"], missing


def _copy_table(target: Path, source: Path, table: str) -> int:
    """Insert every row of ``table`` from ``source`` into ``target``; a row already there is refused."""
    with closing(sqlite3.connect(target, isolation_level=None, uri=True)) as db:
        columns = ", ".join(row[1] for row in db.execute(f"PRAGMA table_info({table})"))
        db.execute("ATTACH DATABASE ? AS shard", (f"{source.resolve().as_uri()}?mode=ro",))
        try:
            if not db.execute(
                "SELECT 1 FROM shard.sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone():
                return 0  # an older store without this table (the audit table came in schema 3)
            db.execute("BEGIN IMMEDIATE")
            try:
                before = db.total_changes
                db.execute(f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM shard.{table}")
                added = db.total_changes - before
                db.execute("COMMIT")
            except sqlite3.IntegrityError:
                db.execute("ROLLBACK")
                raise SurestepError(
                    f"merge: {source.parent} holds {table} rows that an earlier shard holds too"
                ) from None
            return added
        finally:
            db.execute("DETACH DATABASE shard")


# --- PRM runs -------------------------------------------------------------------------------------


def _merge_predictions(
    shards: Sequence[_Source], manifest: dict[str, Any], building: Path
) -> tuple[int, int, int, int]:
    """Every shard's finished instances, checked to be its own, then predictions.jsonl in data order."""
    from surestep.runs.grading_job import write_jsonl_atomic
    from surestep.runs.prm_run import PredictionStore
    from surestep.runs.store import write_json_atomic

    total = _total(shards)
    write_json_atomic(building / MANIFEST, manifest)
    PredictionStore(building).close()
    rows = 0
    for source in shards:
        _check_positions(source)
        rows += _copy_table(building / PRM_DATABASE, source.directory / PRM_DATABASE, "predictions")
    with closing(_read_only(building / PRM_DATABASE)) as db:
        ordered = [json.loads(row) for (row,) in db.execute("SELECT row FROM predictions ORDER BY position")]
    write_jsonl_atomic(building / PRM_PREDICTIONS, ordered)
    return total, rows, 0, total - rows


def _check_positions(source: _Source) -> None:
    """Refuse a shard holding an instance at a position that belongs to another shard."""
    with closing(_read_only(source.directory / PRM_DATABASE)) as db:
        row = db.execute(
            "SELECT id, position FROM predictions WHERE position % ? != ? LIMIT 1",
            (source.shard.count, source.shard.index),
        ).fetchone()
    if row is not None:
        raise SurestepError(
            f"{source.directory}: instance {row[0]!r} (position {row[1]}) "
            f"is not part of shard {source.shard.label}"
        )


# --- writing --------------------------------------------------------------------------------------


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)


def _move_into_place(building: Path, out: Path) -> None:
    """Rename the finished directory to ``out`` (an empty ``out`` is replaced)."""
    os.chmod(building, 0o755)  # mkdtemp makes it private; the result is an ordinary directory
    if out.is_dir():
        out.rmdir()
    os.rename(building, out)


def describe(summary: MergeSummary) -> str:
    """One line about a merge, for the command line."""
    what = "problems" if summary.kind == "run" else "instances"
    rows = "draws" if summary.kind == "run" else "predictions"
    line = f"merged {summary.shards} shards: {summary.items:,} {what}, {summary.rows:,} {rows}"
    if summary.kind == "run":
        line += f", {summary.grades:,} grades"
    line += f" into {summary.out}"
    if summary.missing:
        again = "surestep run" if summary.kind == "run" else "surestep prm run"
        line += (
            f"; {summary.missing:,} {rows} still missing ({again} on it with the same settings makes them)"
        )
    return line
