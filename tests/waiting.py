"""Waiting on observable state (a row in a store, a process ending) instead of on the clock."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

DEADLINE_SECONDS = 120.0
"""Generous: a cold, loaded or single-core machine may take many times longer than a laptop."""


def wait_until(
    condition: Callable[[], bool], *, what: str, timeout: float = DEADLINE_SECONDS, interval: float = 0.02
) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def count_rows(database: Path, table: str) -> int:
    """Rows of ``table`` in a SQLite file opened read-only; 0 while the file or the table is not there yet."""
    if not database.exists():
        return 0
    uri = f"{database.resolve().as_uri()}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
            return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet, or caught mid-creation
        return 0
