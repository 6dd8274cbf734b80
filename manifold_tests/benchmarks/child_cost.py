"""What a step costs this process and the child processes it runs (the sandbox's child):
the lead's `measured` for this process, plus the children's CPU and the peak memory of the
largest child.

The children's CPU comes from the kernel once they have been waited for (RUSAGE_CHILDREN);
their peak from their own high-water mark (VmHWM), read every 20 ms while they live, which
costs the interpreter far less than sampling RSS would. The last reading of each child
counts: one taken between its fork and its exec is the parent's.
"""

from __future__ import annotations

import contextlib
import re
import resource
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil

from manifold_tests.benchmarks.measure import Cost, measured

T = TypeVar("T")
SAMPLE_SECONDS = 0.02


@dataclass(frozen=True)
class TreeCost:
    own: Cost
    child_user: float
    child_system: float
    child_peak_mb: float

    @property
    def cpu(self) -> float:
        """CPU seconds of this process and its children together."""
        return self.own.user + self.own.system + self.child_user + self.child_system

    def figures(self, label: str) -> dict[str, float | int]:
        return {
            f"{label} s": self.own.wall,
            f"{label} cpu s (parent+child)": self.cpu,
            f"{label} parent cpu s (user+sys)": self.own.user + self.own.system,
            f"{label} parent sys s": self.own.system,
            f"{label} child cpu s": self.child_user + self.child_system,
            f"{label} child sys s": self.child_system,
            f"{label} parent minor page faults": self.own.minor_faults,
            f"{label} parent peak RSS rise MB": self.own.peak_rise_mb,
            f"{label} child peak RSS MB": self.child_peak_mb,
        }


def _high_water_kb(process: psutil.Process) -> int:
    text = Path(f"/proc/{process.pid}/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def measured_with_children(action: Callable[[], T]) -> tuple[TreeCost, T]:
    """Run `action`, which starts child processes and waits for them, and say what it cost.
    Children alive before it (a test server) are not its own."""
    me = psutil.Process()
    earlier = {child.pid for child in me.children(recursive=True)}
    latest_kb: dict[int, int] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            for child in me.children(recursive=True):
                if child.pid in earlier:
                    continue
                with contextlib.suppress(psutil.Error, OSError):  # it may just have ended
                    latest_kb[child.pid] = _high_water_kb(child)

    sampler = threading.Thread(target=sample, daemon=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler.start()
    try:
        own, value = measured(action)
    finally:
        done.set()
        sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cost = TreeCost(
        own=own,
        child_user=after.ru_utime - before.ru_utime,
        child_system=after.ru_stime - before.ru_stime,
        child_peak_mb=max(latest_kb.values(), default=0) / 1024,
    )
    return cost, value
