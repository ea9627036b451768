"""Functions run inside pool workers by the tests (module level so they pickle)."""

from __future__ import annotations

import os
import time


def square_after(seconds: float, value: int) -> int:
    time.sleep(seconds)
    return value * value


def fail(_: int) -> int:
    raise RuntimeError("boom")


def die(_: int) -> int:
    os._exit(3)


def spin(_: int) -> int:
    while True:  # ignores signals other than SIGKILL
        pass
