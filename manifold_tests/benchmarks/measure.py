"""What one benchmark step costs: wall time, this process's CPU (user and system), page faults
and peak memory (or a child process's own, for a command), and, on PostgreSQL, the server's
CPU.

Wall time alone moves with whatever else the machine runs; CPU time moves far less, so a
figure is printed with both, and a step whose wall time is well above its CPU time (plus the
server's) spent that time waiting: on the disk, on a lock, or for a core. Peak memory is the
kernel's own high-water mark (VmHWM), reset before the step, not a sampling thread that would
compete with the step for the interpreter.
"""

from __future__ import annotations

import os
import re
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psutil
import psycopg

T = TypeVar("T")

_STATUS = Path("/proc/self/status")
FAULTS_TO_PRICE = 10_000
"""A step with this many page faults or more shows its system time per fault: on this virtual
machine a fault costs 2.7 us on a page the guest used lately and 9.5 us on one the host must
back first (`python -m manifold_tests.benchmarks.page_faults`), so the same step's system
time moves with which pages it happened to get."""


def _status_kb(field: str) -> int:
    found = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    return int(found.group(1)) if found else 0


def _reset_peak() -> None:
    """Linux resets VmHWM to the current RSS when "5" is written to clear_refs."""
    Path("/proc/self/clear_refs").write_text("5")


class ServerCpu:
    """CPU seconds a PostgreSQL server on this machine has used: its postmaster, the backends
    alive now, and those that ended (the postmaster reaps them, so theirs is in its
    children's times). The server must serve nothing but the benchmark."""

    def __init__(self, url: str) -> None:
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            assert row is not None
            postmaster = psutil.Process(row[0]).parent()  # while the backend is alive
        assert postmaster is not None, "the backend's postmaster is not visible from here"
        self.postmaster = postmaster

    def seconds(self) -> float:
        """Read again when a backend was reaped while we looked: its time would otherwise
        be in neither sum (gone from the children, not yet in the postmaster's)."""
        while True:
            before = self._own()
            live = 0.0
            for child in self.postmaster.children():
                try:
                    times = child.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                live += times.user + times.system
            if self._own() == before:
                return before + live

    def _own(self) -> float:
        times = self.postmaster.cpu_times()
        return float(times.user + times.system + times.children_user + times.children_system)


@dataclass(frozen=True)
class Cost:
    wall: float
    user: float
    system: float
    minor_faults: int
    major_faults: int
    peak_rise_mb: float
    server_cpu: float | None

    @classmethod
    def mean(cls, costs: list[Cost]) -> Cost:
        """The mean of several steps' costs; the peak is the highest of them."""
        count = len(costs)
        servers = [cost.server_cpu for cost in costs if cost.server_cpu is not None]
        return cls(
            wall=sum(cost.wall for cost in costs) / count,
            user=sum(cost.user for cost in costs) / count,
            system=sum(cost.system for cost in costs) / count,
            minor_faults=sum(cost.minor_faults for cost in costs) // count,
            major_faults=sum(cost.major_faults for cost in costs) // count,
            peak_rise_mb=max(cost.peak_rise_mb for cost in costs),
            server_cpu=sum(servers) / count if servers else None,
        )

    @property
    def cpu(self) -> float:
        """What the step's processes computed (the server's too), free of waiting for a busy
        machine's cores."""
        return self.user + self.system + (self.server_cpu or 0.0)

    def figures(self, label: str) -> dict[str, float | int]:
        shown: dict[str, float | int] = {
            f"{label} s": self.wall,
            f"{label} cpu s (user+sys)": self.user + self.system,
            f"{label} user s": self.user,
            f"{label} sys s": self.system,
            f"{label} minor page faults": self.minor_faults,
            f"{label} peak RSS rise MB": self.peak_rise_mb,
        }
        if self.minor_faults >= FAULTS_TO_PRICE:
            shown[f"{label} sys us per fault"] = self.system / self.minor_faults * 1e6
        if self.major_faults:
            shown[f"{label} major page faults"] = self.major_faults
        if self.server_cpu is not None:
            shown[f"{label} server cpu s"] = self.server_cpu
        return shown


def measured(action: Callable[[], T], server: ServerCpu | None = None) -> tuple[Cost, T]:
    """Run `action` once and say what it cost."""
    _reset_peak()
    rss_before = _status_kb("VmRSS")
    server_before = server.seconds() if server is not None else 0.0
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    value = action()
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cost = Cost(
        wall=wall,
        user=usage.ru_utime - usage_before.ru_utime,
        system=usage.ru_stime - usage_before.ru_stime,
        minor_faults=usage.ru_minflt - usage_before.ru_minflt,
        major_faults=usage.ru_majflt - usage_before.ru_majflt,
        peak_rise_mb=(_status_kb("VmHWM") - rss_before) / 1024,
        server_cpu=server.seconds() - server_before if server is not None else None,
    )
    return cost, value


def measured_command(
    command: list[str], env: dict[str, str], output: Path, server: ServerCpu | None = None
) -> Cost:
    """A command's wall time and its own CPU time, page faults and peak memory (wait4 gives
    the child's usage alone), its standard output written to `output` and its standard error
    beside it. A new process starts from nothing, so its peak rise is its whole peak, the
    interpreter's own too."""
    errors = output.with_name(f"{output.name}.stderr")
    server_before = server.seconds() if server is not None else 0.0
    with output.open("wb") as stdout, errors.open("wb") as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(
            child.returncode, command, stderr=errors.read_text(errors="replace")[-4000:]
        )
    return Cost(
        wall=wall,
        user=usage.ru_utime,
        system=usage.ru_stime,
        minor_faults=usage.ru_minflt,
        major_faults=usage.ru_majflt,
        peak_rise_mb=usage.ru_maxrss / 1024,
        server_cpu=server.seconds() - server_before if server is not None else None,
    )


def spread(values: list[Any]) -> str:
    """The median of repeated runs, with their range when there are several; counts stay
    whole numbers."""
    median = statistics.median(values)
    if all(isinstance(value, int) for value in values):
        median = round(median)
    if len(values) == 1:
        return _number(median)
    return f"{_number(median)} [{_number(min(values))}-{_number(max(values))}]"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def figure_names(runs: list[dict[str, Any]]) -> list[str]:
    """Every run's figure names in one order, each name a run has beside the one before it
    there: PostgreSQL's server CPU after its step, a repeat's major faults after its step."""
    names: list[str] = []
    for run in runs:
        at = -1
        for name in run:
            if name in names:
                at = names.index(name)
            else:
                at += 1
                names.insert(at, name)
    return names
