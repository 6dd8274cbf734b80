"""The README's main command must keep working: it is the first thing a newcomer runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_runs_twice_and_prints_the_diff(tmp_path: Path) -> None:
    env = {"MANIFOLD_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    outputs = [
        subprocess.run(
            [sys.executable, "-m", "manifold_pipelines.demo"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        for _ in range(2)
    ]
    assert "versions 1 and 2" in outputs[0] and "versions 3 and 4" in outputs[1]
    assert '"added": 1' in outputs[0] and '"removed": 2' in outputs[0]
    assert '"modified": 3' in outputs[0] and "[info] fetched 19 items" in outputs[0]
    assert (tmp_path / "home" / "data-sources" / "demo" / "api.db").exists()
