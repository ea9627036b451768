"""The run store: one SQLite database (WAL) per run directory, plus a readable manifest.

Every draw is committed as soon as its request completes, keyed by (problem, generation
config, draw index), so a killed process loses at most the requests in flight and a
re-run never duplicates a draw (``INSERT OR IGNORE`` on the key). Grades live in their
own table, keyed the same way, so re-grading never touches the draws.
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surestep.data.problems import Problem
from surestep.errors import SurestepError
from surestep.grading.records import GradeRecord
from surestep.models.base import Completion

DATABASE = "run.sqlite"
MANIFEST = "manifest.json"
SCHEMA_VERSION = 4  # 2: problems.level; 3: the audit table (surestep audit); 4: step_scores (surestep bon)

_INSERT_DRAWS = "INSERT OR IGNORE INTO draws VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_GRADE_OF_DRAW = (
    "SELECT 1 FROM grades g WHERE g.problem_id = d.problem_id AND g.config = d.config "
    "AND g.draw_index = d.draw_index"
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS problems (
    problem_id TEXT PRIMARY KEY, position INTEGER NOT NULL, question TEXT NOT NULL,
    answer TEXT NOT NULL, subset TEXT, options TEXT, prompt TEXT NOT NULL, level TEXT
);
CREATE TABLE IF NOT EXISTS draws (
    problem_id TEXT NOT NULL, config TEXT NOT NULL, draw_index INTEGER NOT NULL,
    text TEXT NOT NULL, finish_reason TEXT, prompt_tokens INTEGER, completion_tokens INTEGER,
    latency REAL, seed INTEGER, created REAL NOT NULL,
    PRIMARY KEY (problem_id, config, draw_index)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS grades (
    problem_id TEXT NOT NULL, config TEXT NOT NULL, draw_index INTEGER NOT NULL,
    verdict TEXT NOT NULL, correct INTEGER NOT NULL, extracted_answer TEXT, extraction_rule TEXT,
    grader TEXT, grader_version TEXT, detail TEXT, grade_seconds REAL, judge_model TEXT,
    PRIMARY KEY (problem_id, config, draw_index)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
    problem_id TEXT NOT NULL, config TEXT NOT NULL, draw_index INTEGER NOT NULL,
    judge_model TEXT NOT NULL, sample_seed INTEGER NOT NULL, rule_verdict TEXT NOT NULL,
    judged_text TEXT NOT NULL, judge_verdict INTEGER, judge_reply TEXT, error TEXT, created REAL NOT NULL,
    PRIMARY KEY (problem_id, config, draw_index, judge_model, sample_seed)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS step_scores (
    scorer_key TEXT NOT NULL, problem_id TEXT NOT NULL, config TEXT NOT NULL, draw_index INTEGER NOT NULL,
    steps INTEGER NOT NULL, truncated_steps INTEGER NOT NULL, valid INTEGER NOT NULL, scores TEXT NOT NULL,
    error TEXT, seconds REAL NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (scorer_key, problem_id, config, draw_index)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class StepScoreRow:
    """A PRM's step scores of one draw (``surestep bon``), keyed by the scorer setup's key.

    ``steps`` is how many steps the draw was split into; ``truncated_steps`` how many of them the
    scorer left unscored (its input was cut); ``valid=False`` with an ``error``: not judged.
    """

    scorer_key: str
    problem_id: str
    config: str
    draw_index: int
    steps: int
    truncated_steps: int
    valid: bool
    scores: tuple[float, ...]
    error: str | None = None


@dataclass(frozen=True)
class StoredDraw:
    problem_id: str
    config: str
    draw_index: int
    text: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency: float | None
    seed: int | None = None  # the seed the draw was generated with (None: none was sent)


@dataclass(frozen=True)
class StoredGrade:
    verdict: str
    correct: bool
    extracted_answer: str | None
    extraction_rule: str | None
    grader: str | None
    grader_version: str | None


@dataclass(frozen=True)
class AuditRow:
    """The LLM judge's answer about one audited draw (``surestep audit``).

    ``rule_verdict`` and ``judged_text`` are what the judge was shown the draw as; a row whose
    draw has since been graded differently no longer applies. ``judge_verdict`` is None for a
    judge error: ``judge_reply`` None means the request failed, otherwise the reply was malformed.
    """

    problem_id: str
    config: str
    draw_index: int
    judge_model: str
    sample_seed: int
    rule_verdict: str
    judged_text: str
    judge_verdict: bool | None
    judge_reply: str | None
    error: str | None


def draw_rows(
    problem_id: str,
    config: str,
    indices: Sequence[int],
    seeds: Sequence[int | None],
    completions: Sequence[Completion],
) -> list[tuple[Any, ...]]:
    """Rows of the draws table for one request's completions."""
    now = time.time()
    return [
        (
            problem_id,
            config,
            index,
            c.text,
            c.finish_reason,
            c.prompt_tokens,
            c.completion_tokens,
            c.latency_seconds,
            seed,
            now,
        )
        for index, seed, c in zip(indices, seeds, completions)
    ]


def connect_wal(path: Path, **options: Any) -> sqlite3.Connection:
    """A SQLite connection in WAL mode, durable across process crashes, readable while written."""
    db: sqlite3.Connection = sqlite3.connect(path, **options)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
    return db


def changed_fields_error(
    existing: Mapping[str, Any], new: Mapping[str, Any], fields: Sequence[str], headline: str
) -> SurestepError | None:
    """The refusal to resume a run whose identifying fields changed (each listed), or None."""
    changed = [name for name in fields if existing.get(name) != new.get(name)]
    if not changed:
        return None
    lines = [f"  {n}: run has {json.dumps(existing.get(n))}, now {json.dumps(new.get(n))}" for n in changed]
    return SurestepError(
        "\n".join([headline, *lines, "Use a new --out directory, or the original settings to resume."])
    )


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so readers never see half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the result is an ordinary file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


class RunStore:
    """A run directory's database. Not shared between threads; one writer process at a time."""

    def __init__(self, directory: str | Path, *, create: bool = False) -> None:
        self.directory = Path(directory)
        path = self.directory / DATABASE
        if not path.exists():
            if not create:
                raise SurestepError(f"{self.directory}: not a surestep run directory (no {DATABASE})")
            self.directory.mkdir(parents=True, exist_ok=True)
        self._db = connect_wal(path, timeout=30.0, isolation_level=None)
        self._db.executescript(_SCHEMA)
        self._migrate(path)
        self.write_seconds = 0.0

    def _migrate(self, path: Path) -> None:
        """Bring a store written by an older surestep up to this schema (in place, additive only)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        version = 1 if row is None else int(row[0])
        if version > SCHEMA_VERSION:
            self._db.close()
            raise SurestepError(
                f"{path}: written by a newer surestep (store schema {version}; this one reads up to "
                f"{SCHEMA_VERSION}). Upgrade surestep to read it."
            )
        if version == SCHEMA_VERSION:
            return
        with self._transaction():
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(problems)")}
            if "level" not in columns:  # schema 1 had no level: it stays empty until problems are saved again
                self._db.execute("ALTER TABLE problems ADD COLUMN level TEXT")
            # schema 2 had no audit table, schema 3 no step_scores: _SCHEMA has just created them, empty
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # manifest -----------------------------------------------------------------
    def manifest(self) -> dict[str, Any] | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'manifest'").fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def save_manifest(self, manifest: Mapping[str, Any]) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('manifest', ?)", (json.dumps(manifest, sort_keys=True),)
            )
        write_json_atomic(self.directory / MANIFEST, manifest)

    # problems ---------------------------------------------------------------------
    def save_problems(self, problems: Sequence[Problem], prompts: Sequence[str]) -> None:
        rows = [
            (
                p.id,
                i,
                p.question,
                p.answer,
                p.subset,
                json.dumps(dict(p.options), ensure_ascii=False) if p.options else None,
                prompt,
                p.level,
            )
            for i, (p, prompt) in enumerate(zip(problems, prompts))
        ]
        with self._transaction():
            self._db.execute("DELETE FROM problems")
            self._db.executemany(
                "INSERT INTO problems (problem_id, position, question, answer, subset, options, prompt, "
                "level) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def problems(self) -> list[tuple[Problem, str]]:
        rows = self._db.execute(
            "SELECT problem_id, question, answer, subset, options, prompt, level FROM problems "
            "ORDER BY position"
        ).fetchall()
        return [
            (Problem(r[0], r[1], r[2], r[3], json.loads(r[4]) if r[4] else None, level=r[6]), r[5])
            for r in rows
        ]

    # draws ----------------------------------------------------------------------
    def add_draws(
        self,
        problem_id: str,
        config: str,
        indices: Sequence[int],
        seeds: Sequence[int | None],
        completions: Sequence[Completion],
    ) -> int:
        """Commit the draws of one request; returns how many were new."""
        started = time.perf_counter()
        rows = draw_rows(problem_id, config, indices, seeds, completions)
        with self._transaction():
            before = self._db.total_changes
            self._db.executemany(_INSERT_DRAWS, rows)
            added = self._db.total_changes - before
        self.write_seconds += time.perf_counter() - started
        return added

    def draw_indices(self, config: str) -> dict[str, set[int]]:
        present: dict[str, set[int]] = {}
        for problem_id, index in self._db.execute(
            "SELECT problem_id, draw_index FROM draws WHERE config = ?", (config,)
        ):
            present.setdefault(problem_id, set()).add(index)
        return present

    def draws(self, config: str, *, below: int | None = None, ungraded: bool = False) -> Iterator[StoredDraw]:
        """A config's draws (those below an index; only those with no grade yet)."""
        query = (
            "SELECT d.problem_id, d.config, d.draw_index, d.text, d.finish_reason, d.prompt_tokens, "
            "d.completion_tokens, d.latency, d.seed FROM draws d WHERE d.config = ?"
        )
        args: list[Any] = [config]
        if below is not None:
            query += " AND d.draw_index < ?"
            args.append(below)
        if ungraded:
            query += f" AND NOT EXISTS ({_GRADE_OF_DRAW})"
        for row in self._db.execute(query + " ORDER BY d.problem_id, d.draw_index", args):
            yield StoredDraw(*row)

    # grades ---------------------------------------------------------------------
    def ungraded(self, config: str) -> list[StoredDraw]:
        """Draws with no grade yet."""
        return list(self.draws(config, ungraded=True))

    def count_ungraded(self, config: str) -> int:
        query = f"SELECT COUNT(*) FROM draws d WHERE d.config = ? AND NOT EXISTS ({_GRADE_OF_DRAW})"
        return int(self._db.execute(query, (config,)).fetchone()[0])

    def add_grades(self, draws: Sequence[StoredDraw], records: Sequence[GradeRecord]) -> None:
        rows = [
            (
                d.problem_id,
                d.config,
                d.draw_index,
                r.verdict,
                int(r.correct),
                r.extracted_answer,
                r.extraction_rule,
                r.grader,
                r.grader_version,
                r.detail,
                r.grade_seconds,
                r.judge_model,
            )
            for d, r in zip(draws, records)
        ]
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO grades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    def grades(self, config: str) -> dict[tuple[str, int], StoredGrade]:
        rows = self._db.execute(
            "SELECT problem_id, draw_index, verdict, correct, extracted_answer, extraction_rule, grader, "
            "grader_version FROM grades WHERE config = ?",
            (config,),
        )
        return {(r[0], r[1]): StoredGrade(r[2], bool(r[3]), r[4], r[5], r[6], r[7]) for r in rows}

    # audits ---------------------------------------------------------------------
    def draw_texts(self, config: str, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The texts of these draws (problem id, draw index) only; absent draws are left out."""
        query = "SELECT text FROM draws WHERE problem_id = ? AND config = ? AND draw_index = ?"
        found = {}
        for problem_id, index in keys:
            row = self._db.execute(query, (problem_id, config, index)).fetchone()
            if row is not None:
                found[problem_id, index] = str(row[0])
        return found

    def add_audits(self, rows: Sequence[AuditRow]) -> None:
        """Commit judge answers together (replacing older answers about the same draw, judge and seed)."""
        now = time.time()
        values = [
            (
                r.problem_id,
                r.config,
                r.draw_index,
                r.judge_model,
                r.sample_seed,
                r.rule_verdict,
                r.judged_text,
                None if r.judge_verdict is None else int(r.judge_verdict),
                r.judge_reply,
                r.error,
                now,
            )
            for r in rows
        ]
        with self._transaction():
            self._db.executemany(f"INSERT OR REPLACE INTO audit VALUES ({', '.join('?' * 11)})", values)

    def audit_rows(self, config: str, judge_model: str, sample_seed: int) -> dict[tuple[str, int], AuditRow]:
        """The stored judge answers of one audit, by (problem id, draw index)."""
        rows = self._db.execute(
            "SELECT problem_id, config, draw_index, judge_model, sample_seed, rule_verdict, judged_text, "
            "judge_verdict, judge_reply, error FROM audit "
            "WHERE config = ? AND judge_model = ? AND sample_seed = ?",
            (config, judge_model, sample_seed),
        )
        return {
            (r[0], r[2]): AuditRow(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6], None if r[7] is None else bool(r[7]), r[8], r[9]
            )
            for r in rows
        }

    def audit_settings(self) -> dict[str, Any] | None:
        """The settings of the latest ``surestep audit`` of this run, or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'audit'").fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def save_audit_settings(self, settings: Mapping[str, Any]) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('audit', ?)", (json.dumps(settings, sort_keys=True),)
            )

    # step scores (surestep bon) -----------------------------------------------------------
    def step_scorers(self) -> dict[str, dict[str, Any]]:
        """The setup of every stored step scorer, by its label (``surestep bon --name``)."""
        rows = self._db.execute("SELECT key, value FROM meta WHERE key LIKE 'bon:%' ORDER BY key")
        return {key[len("bon:") :]: dict(json.loads(value)) for key, value in rows}

    def save_step_scorer(self, label: str, setup: Mapping[str, Any]) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                (f"bon:{label}", json.dumps(setup, sort_keys=True)),
            )

    def add_step_scores(self, rows: Sequence[StepScoreRow], seconds: float) -> None:
        """Commit one chunk of scored draws together (a draw already stored is kept as it is)."""
        now = time.time()
        per_row = seconds / max(len(rows), 1)
        values = [
            (
                r.scorer_key,
                r.problem_id,
                r.config,
                r.draw_index,
                r.steps,
                r.truncated_steps,
                int(r.valid),
                json.dumps(list(r.scores)),
                r.error,
                per_row,
                now,
            )
            for r in rows
        ]
        with self._transaction():
            self._db.executemany(f"INSERT OR IGNORE INTO step_scores VALUES ({', '.join('?' * 11)})", values)

    def step_scores(self, scorer_key: str, config: str) -> dict[tuple[str, int], StepScoreRow]:
        """The stored step scores of one scorer setup, by (problem id, draw index)."""
        rows = self._db.execute(
            "SELECT scorer_key, problem_id, config, draw_index, steps, truncated_steps, valid, scores, error "
            "FROM step_scores WHERE scorer_key = ? AND config = ?",
            (scorer_key, config),
        )
        return {
            (r[1], r[3]): StepScoreRow(
                r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), tuple(json.loads(r[7])), r[8]
            )
            for r in rows
        }

    def step_score_seconds(self, scorer_key: str) -> float:
        row = self._db.execute(
            "SELECT COALESCE(SUM(seconds), 0) FROM step_scores WHERE scorer_key = ?", (scorer_key,)
        ).fetchone()
        return float(row[0])

    # phase times and token counts (results.json) ---------------------------------------
    def phase_times(self) -> dict[str, tuple[float, int]]:
        """Wall seconds and draws of each recorded phase ("generate", "grade"), summed over invocations."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'phases'").fetchone()
        saved = {} if row is None else json.loads(row[0])
        return {phase: (float(entry["seconds"]), int(entry["draws"])) for phase, entry in saved.items()}

    def add_phase_time(self, phase: str, seconds: float, draws: int) -> None:
        """Add one invocation's wall seconds and draws to the totals of ``phase``."""
        with self._transaction():
            row = self._db.execute("SELECT value FROM meta WHERE key = 'phases'").fetchone()
            saved = {} if row is None else json.loads(row[0])
            entry = saved.get(phase, {"seconds": 0.0, "draws": 0})
            saved[phase] = {"seconds": entry["seconds"] + seconds, "draws": entry["draws"] + draws}
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('phases', ?)", (json.dumps(saved, sort_keys=True),)
            )

    def token_counts(self, config: str, below: int) -> tuple[int, int, int, int]:
        """(draws, draws with both token counts, their prompt tokens, their completion tokens) of a
        config's draws below an index."""
        counted = "prompt_tokens IS NOT NULL AND completion_tokens IS NOT NULL"
        row = self._db.execute(
            f"SELECT COUNT(*), COALESCE(SUM({counted}), 0), "
            f"COALESCE(SUM(CASE WHEN {counted} THEN prompt_tokens END), 0), "
            f"COALESCE(SUM(CASE WHEN {counted} THEN completion_tokens END), 0) "
            "FROM draws WHERE config = ? AND draw_index < ?",
            (config, below),
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])

    def draw_writer(self) -> DrawWriter:
        """A background writer, so commits never hold up the event loop that waits on the model."""
        return DrawWriter(self.directory / DATABASE)

    # ----------------------------------------------------------------------------
    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


_DrawRows = list[tuple[Any, ...]]


class DrawWriter:
    """Commits draws from a queue in its own thread and connection.

    Each batch is committed as soon as the thread takes it: whatever completed while the
    previous commit ran goes into the next transaction together. ``close`` drains the
    queue. A crash loses only what is still queued (milliseconds of completions).
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._queue: queue.Queue[_DrawRows | None] = queue.Queue()
        self._error: BaseException | None = None
        self.write_seconds = 0.0
        self._thread = threading.Thread(target=self._run, name="surestep-draw-writer", daemon=True)
        self._thread.start()

    def put(
        self,
        problem_id: str,
        config: str,
        indices: Sequence[int],
        seeds: Sequence[int | None],
        completions: Sequence[Completion],
    ) -> None:
        if self._error is not None:
            raise SurestepError(f"cannot write draws to {self._path}: {self._error}")
        self._queue.put(draw_rows(problem_id, config, indices, seeds, completions))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise SurestepError(f"cannot write draws to {self._path}: {self._error}")

    def _run(self) -> None:
        db = sqlite3.connect(self._path, timeout=30.0, isolation_level=None)
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            finished = False
            while not finished:
                batch = [self._queue.get()]
                while True:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                finished = batch[-1] is None or None in batch
                rows = [row for item in batch if item is not None for row in item]
                if rows:
                    started = time.perf_counter()
                    with _Transaction(db):
                        db.executemany(_INSERT_DRAWS, rows)
                    self.write_seconds += time.perf_counter() - started
        except BaseException as exc:  # surfaced to the caller on the next put or at close
            self._error = exc
        finally:
            db.close()


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
