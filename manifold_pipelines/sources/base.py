"""What every source type provides: a run that yields records and collects its log lines.

A new source type is one module with a runner class registered in `registry.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from manifold_pipelines.core.models import DataSource
from manifold_pipelines.errors import ManifoldError
from manifold_pipelines.settings import Settings

MAX_LOG_CHARS = 256 * 1024
# A state is a cursor or a page token, read and written with every import, never data.
MAX_STATE_BYTES = 1 << 20


class SourceRunError(ManifoldError):
    """A source that ran and failed: the script threw, timed out, ran out of memory, returned
    the wrong shape, or a file could not be read."""


@dataclass
class RunLog:
    """Console and runner lines of one run, capped so a chatty script cannot fill the disk."""

    lines: list[str] = field(default_factory=list)
    size: int = 0
    truncated: bool = False

    def add(self, level: str, message: str) -> None:
        line = f"[{level}] {message}"
        if self.size + len(line) > MAX_LOG_CHARS:
            self.truncated = True
            return
        self.lines.append(line)
        self.size += len(line) + 1

    def text(self) -> str | None:
        if not self.lines:
            return None
        suffix = "\n[warn] (log truncated)" if self.truncated else ""
        return "\n".join(self.lines) + suffix


@dataclass(frozen=True)
class RunContext:
    """What a run may use besides its own config."""

    settings: Settings
    inputs: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Projects' own data folders: with data-sources/, archive/ and core.db, what a file
    # source must not read (files.manifold_owned).
    data_folders: tuple[Path, ...] = ()
    # The source's committed state ({} at first): what an incremental source resumes from
    # (a cursor, a page token). The run gets a copy; see SourceRun.final_state.
    state: Mapping[str, Any] = field(default_factory=dict)


class RecordChunks(Iterator[dict[str, Any]]):
    """A run's records in the lists it parsed them in. Iterated, the records one by one; an
    importer reads `chunks()` instead, and each list by C-level calls over slices of it
    (versions/record_batches.py). That is safe because the run hands each list over and never
    touches it, or a record in it, again: what the importer reads from a record later is what
    the run gave. `chunks()` goes on from the first record not yet iterated.

    `parsed` says that orjson parsed every record from JSON text, untouched since: orjson
    refuses NaN and infinities, so no value is one, and the importer does not look for them."""

    def __init__(self, chunks: Iterator[list[Any]], *, parsed: bool = False) -> None:
        self.parsed = parsed
        self._chunks = chunks
        self._chunk: list[Any] = []
        self._at = 0

    def __next__(self) -> dict[str, Any]:
        while self._at == len(self._chunk):
            self._chunk, self._at = next(self._chunks), 0
        self._at += 1
        return self._chunk[self._at - 1]  # type: ignore[no-any-return]

    def chunks(self) -> Iterator[list[Any]]:
        if self._at < len(self._chunk):
            rest, self._chunk, self._at = self._chunk[self._at :], [], 0
            yield rest
        yield from self._chunks


class SourceRun(Protocol):
    log: RunLog
    deleted: list[Any]
    """Keys the run asked to delete (an incremental source's deletions), as it gave them: key
    values, or objects holding the key fields. Complete once `records()` is exhausted."""

    def records(self) -> Iterator[dict[str, Any]]:
        """Yield records (as RecordChunks when they come in lists the run lets go of); raise
        SourceRunError when the source fails."""
        ...

    def final_state(self) -> dict[str, Any] | None:
        """The state to commit with the version, once `records()` ran to its end without an
        error: a JSON object. None leaves the committed state as it is."""
        ...

    def close(self) -> None:
        """Release what the run holds (a child process, a file); safe to call twice."""
        ...


class SourceRunner(Protocol):
    def start(self, source: DataSource, context: RunContext) -> SourceRun: ...
