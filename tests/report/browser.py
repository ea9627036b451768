"""Headless Debian chromium for the report tests (installed by .ci/run when missing)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def chromium() -> str:
    """The browser's path; skips the test with the reason when there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium here, and .ci/run could not install Debian's chromium")


def headless(
    browser: str, profile: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def dump_dom(browser: str, page: Path | str, profile: Path) -> str:
    """The DOM after the page's scripts ran (``page`` may carry a #fragment)."""
    uri = page.as_uri() if isinstance(page, Path) else page
    result = headless(browser, profile, "--dump-dom", uri)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout
