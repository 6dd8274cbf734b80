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
import os
import re
import resource
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

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


def _high_water_kb(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else 0


class _Children:
    """This process's children. psutil's children() reads the status of every process on
    the machine at each call, which would be the figure's main cost: here each process is
    looked at once, when it first appears."""

    def __init__(self) -> None:
        self.me = os.getpid()
        self.seen: dict[int, bool] = {}

    def now(self) -> set[int]:
        alive = {int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()}
        for pid in alive - self.seen.keys():
            self.seen[pid] = self._parent(pid) == self.me
        return {pid for pid in alive if self.seen[pid]}

    @staticmethod
    def _parent(pid: int) -> int:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # it ended
            return 0
        return int(stat.rsplit(")", 1)[1].split()[1])


def measured_with_children(action: Callable[[], T]) -> tuple[TreeCost, T]:
    """Run `action`, which starts child processes and waits for them, and say what it cost.
    Children alive before it (a test server) are not its own."""
    children = _Children()
    earlier = children.now()
    latest_kb: dict[int, int] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            for pid in children.now() - earlier:
                with contextlib.suppress(OSError):  # it may just have been waited for
                    # An ended child not yet waited for has no memory left to report.
                    latest_kb[pid] = _high_water_kb(pid) or latest_kb.get(pid, 0)

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
