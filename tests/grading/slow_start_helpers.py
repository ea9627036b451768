"""A worker function whose module takes long to import, as a worker does on a loaded machine.

Workers unpickle their function by importing this module, so every worker start pays the
delay below before it can say it is ready.
"""

from __future__ import annotations

import time

START_DELAY_SECONDS = 1.5
time.sleep(START_DELAY_SECONDS)


def double(value: int) -> int:
    return 2 * value
