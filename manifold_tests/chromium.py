"""Debian's headless Chromium for tests and benchmarks that check what a browser renders."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Chromium is needed here: .ci/run installs Debian's chromium package"
    return found


def rendered_dom(url: str, profile: Path, *, wait_ms: int = 0, timeout: float = 120) -> str:
    """The page's DOM once Chromium has rendered it; `wait_ms` of virtual time lets a script
    page (the Dagster UI) fetch and draw its data before the DOM is taken."""
    budget = [f"--virtual-time-budget={wait_ms}"] if wait_ms else []
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, *budget, f"--user-data-dir={profile}", "--dump-dom", url],
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    ).stdout
