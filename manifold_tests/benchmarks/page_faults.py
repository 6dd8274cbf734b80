"""What a page fault costs on this machine, on memory the host must back first and on memory
this process used a moment ago: why the same step's system time moves from run to run.

On a virtual machine whose guest reports free memory to its host (Linux free page reporting,
`/sys/module/page_reporting`), a page the guest hands out may be one the host took back, and
touching it first costs the host a fault of its own. Which pages a step gets depends on what
ran before it, so a benchmark step that allocates a lot (the floor parses a million records
into 1.3 GB of objects) costs a different system time from run to run with the same code.
"""

from __future__ import annotations

import argparse
import mmap
import resource
import time
from pathlib import Path

PAGE = 4096
REPORTING = Path("/sys/module/page_reporting/parameters/page_reporting_order")


def touch(size: int) -> tuple[float, int]:
    """System seconds and minor faults to write one byte in every page of `size` fresh
    anonymous bytes."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    with mmap.mmap(-1, size) as memory:
        for offset in range(0, size, PAGE):
            memory[offset] = 1
    after = resource.getrusage(resource.RUSAGE_SELF)
    return after.ru_stime - before.ru_stime, after.ru_minflt - before.ru_minflt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=4096, help="memory touched each time")
    parser.add_argument(
        "--idle", type=float, default=20.0, help="seconds idle before the last time"
    )
    args = parser.parse_args()
    size = args.mb * 2**20
    reporting = REPORTING.read_text().strip() if REPORTING.exists() else "off"
    print(f"free page reporting: {'order ' + reporting if reporting != 'off' else 'off'}")
    for label in ("first", "again at once", "again at once"):
        _show(label, *touch(size))
    time.sleep(args.idle)
    _show(f"after {args.idle:g} s idle", *touch(size))


def _show(label: str, system: float, faults: int) -> None:
    each = system / faults * 1e6
    print(f"{label:<22} {faults:>9,} faults {system:7.3f} s system {each:6.2f} us each")


if __name__ == "__main__":
    main()
