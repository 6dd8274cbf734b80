"""Peak resident memory of this process and its children, sampled while a block runs."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import psutil


class PeakRss:
    """Samples every 5 ms between `watch()` entry and exit. `start` is this process's RSS at
    entry, so `rise_mb` is what the block itself added; `child_peak` covers subprocesses."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.start = 0
        self.peak = 0
        self.child_peak = 0

    @contextlib.contextmanager
    def watch(self) -> Iterator[PeakRss]:
        self.start = self.peak = self.process.memory_info().rss
        running = True

        def sample() -> None:
            while running:
                self.peak = max(self.peak, self.process.memory_info().rss)
                for child in self.process.children(recursive=True):
                    with contextlib.suppress(psutil.Error):  # the child may just have ended
                        self.child_peak = max(self.child_peak, child.memory_info().rss)
                time.sleep(0.005)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            running = False
            thread.join()

    @property
    def rise_mb(self) -> float:
        return (self.peak - self.start) / 2**20

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

    @property
    def child_peak_mb(self) -> float:
        return self.child_peak / 2**20
