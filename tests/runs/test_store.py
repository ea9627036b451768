"""The run store's schema: problem levels, and stores written by older (or newer) surestep versions."""

from __future__ import annotations

import sqlite3

import pytest

from surestep.data.problems import Problem
from surestep.errors import SurestepError
from surestep.runs.store import SCHEMA_VERSION, RunStore

SCHEMA_1_PROBLEMS = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE problems (
    problem_id TEXT PRIMARY KEY, position INTEGER NOT NULL, question TEXT NOT NULL,
    answer TEXT NOT NULL, subset TEXT, options TEXT, prompt TEXT NOT NULL
);
INSERT INTO problems VALUES ('old', 0, 'What is 1 + 1?', '2', 'easy', NULL, 'prompt');
"""


def test_problems_keep_their_level_and_subset(tmp_path):
    problems = [Problem("a", "q1", "1", "comp_en", level="Level 5"), Problem("b", "q2", "2")]
    with RunStore(tmp_path / "run", create=True) as store:
        store.save_problems(problems, ["p1", "p2"])
    with RunStore(tmp_path / "run") as store:
        (a, prompt_a), (b, _) = store.problems()
    assert (a.level, a.subset, prompt_a) == ("Level 5", "comp_en", "p1")
    assert b.level is None and b.subset is None


def test_a_store_from_schema_1_gains_the_level_column(tmp_path):
    (tmp_path / "run").mkdir()
    with sqlite3.connect(tmp_path / "run" / "run.sqlite") as db:
        db.executescript(SCHEMA_1_PROBLEMS)
    with RunStore(tmp_path / "run") as store:
        ((old, prompt),) = store.problems()  # what was stored is read as before
        assert (old.id, old.subset, old.level, prompt) == ("old", "easy", None, "prompt")
        store.save_problems([Problem("new", "q", "3", level="2")], ["p"])
    with sqlite3.connect(tmp_path / "run" / "run.sqlite") as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (str(SCHEMA_VERSION),)
        assert db.execute("SELECT problem_id, level FROM problems").fetchall() == [("new", "2")]
    with RunStore(tmp_path / "run") as store:  # opening again is a no-op
        assert store.problems()[0][0].level == "2"


def test_a_store_from_a_newer_surestep_is_refused(tmp_path):
    with RunStore(tmp_path / "run", create=True):
        pass
    with sqlite3.connect(tmp_path / "run" / "run.sqlite") as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(SurestepError, match=r"newer surestep \(store schema 99"):
        RunStore(tmp_path / "run")
