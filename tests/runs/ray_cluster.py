"""A local Ray cluster for tests, held by a process of its own.

Run: python -m tests.runs.ray_cluster TEMP_DIR. It prints ``ADDRESS host:port`` once the
cluster is up (2 CPUs, no dashboard, every socket on 127.0.0.1; drivers need ``TEST_ENV``),
holds it until its standard input closes, then shuts it down, so a test can SIGKILL a driver
connected to it without leaving Ray's processes behind. ``running_cluster()`` does all that.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEST_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
"""For the cluster and every driver: Ray takes 127.0.0.1 as the node's address (its single-machine
mode), so tests talk to loopback only; and a loopback cluster of one test needs no token."""
REPO_ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def running_cluster() -> Iterator[str]:
    """A cluster in a child process for the block; yields its address."""
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must stay under 108 bytes
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.runs.ray_cluster", temp],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, **TEST_ENV},
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        line = process.stdout.readline()  # the address once up, or nothing if it failed
        if not line.startswith("ADDRESS"):
            raise RuntimeError(f"the test Ray cluster did not start (it said {line!r})")
        yield line.split()[1]
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(temp, ignore_errors=True)


def main() -> None:
    os.environ.update(TEST_ENV)
    import ray

    ray.init(
        address="local", num_cpus=2, include_dashboard=False, _temp_dir=sys.argv[1], logging_level="WARNING"
    )
    print("ADDRESS", ray.get_runtime_context().gcs_address, flush=True)
    sys.stdin.read()
    ray.shutdown()


if __name__ == "__main__":
    main()
