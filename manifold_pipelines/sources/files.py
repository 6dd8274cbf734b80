"""CSV, JSON and JSON Lines sources: a file inside an allowed root, or a URL on the
source's allow-list (fetched through the same HostFetch as scripts)."""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Iterable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from manifold_pipelines.core.models import DataSource
from manifold_pipelines.core.source_config import CsvConfig, FileSourceConfig, JsonConfig
from manifold_pipelines.errors import ManifoldError, PathNotAllowedError
from manifold_pipelines.files import manifold_owned
from manifold_pipelines.paths import resolve_allowed
from manifold_pipelines.settings import Settings
from manifold_pipelines.sources.base import RecordChunks, RunContext, RunLog, SourceRunError
from manifold_pipelines.sources.csv_records import CsvFormatError, csv_source_rows
from manifold_pipelines.sources.cursor import CursorError, CursorField
from manifold_pipelines.sources.http import FetchError, HostFetch

SQLITE_HEADER = b"SQLite format 3\x00"


def file_path(path: str, settings: Settings) -> Path:
    """A relative path is relative to MANIFOLD_HOME, never to wherever a run happens to
    start. Nothing is resolved: that happens when the file is opened."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else settings.home / candidate


def resolve_file_path(path: str, settings: Settings) -> Path:
    """The check a config gets when it is saved: the path must lie inside an allowed root.
    A run checks again what it actually opens (read_allowed_file)."""
    return resolve_allowed(file_path(path, settings), settings.allowed_roots, "File path")


class FileReadError(ManifoldError):
    """A file source's file that is missing, not a regular file, or unreadable."""


def read_allowed_file(path: Path, roots: Iterable[Path]) -> tuple[Path, bytes]:
    """Open `path` once, then check what was opened, and read from that descriptor: a folder
    on the path swapped for a symlink between a check and a later open by name would
    otherwise publish whatever the symlink points to. Returns the opened file's real path
    (the kernel's name for the descriptor) and its bytes."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise FileReadError(
            f"file {str(path)!r} does not exist or is not a file ({exc.strerror})."
        ) from exc
    with os.fdopen(descriptor, "rb") as stream:
        opened = _opened_path(descriptor)
        roots = tuple(roots)
        # A plain comparison of names: `opened` is already the real path, and resolving it
        # again would follow symlinks by name once more.
        if not any(opened == root or opened.is_relative_to(root) for root in roots):
            raise PathNotAllowedError(
                f"File path {str(path)!r} opened {str(opened)!r}, outside every allowed root"
                f" ({', '.join(str(root) for root in roots)}). Use a path inside one of them;"
                " a symlink on the path that leads out of the roots is refused too."
            )
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise FileReadError(
                f"file {str(path)!r} is not a regular file (a folder, device or pipe). Point"
                " 'path' at a file."
            )
        return opened, stream.read()


_MACOS_MAXPATHLEN = 1024


def _opened_path(descriptor: int) -> Path:
    """The real path of an open file, from the kernel: /proc on Linux, F_GETPATH on macOS."""
    if hasattr(fcntl, "F_GETPATH"):
        name = fcntl.fcntl(descriptor, fcntl.F_GETPATH, bytes(_MACOS_MAXPATHLEN))
        return Path(os.fsdecode(name.rstrip(b"\0")))
    return Path(f"/proc/self/fd/{descriptor}").readlink()


# How to fix a cursor field whose rows hold numbers and text, by source type.
_CURSOR_HINTS = {
    "csv": "Declare the column's type in 'columns' (\"string\" to compare as text), or fix"
    " the value.",
    "json": "Fix the value: a cursor field holds numbers only, or text only.",
}


class FileRun:
    """Reads the whole file, then yields its records; parse errors name line or row."""

    def __init__(self, source: DataSource, context: RunContext) -> None:
        self.source = source
        self.context = context
        self.log = RunLog()
        self.deleted: list[Any] = []
        self._state: dict[str, Any] | None = None
        self._finished = False

    def _fail(self, what: str) -> SourceRunError:
        self.log.add("error", what)
        return SourceRunError(f"Data source '{self.source.qualified_id}': {what}")

    def _read(self) -> bytes:
        config = self.source.config
        assert isinstance(config, FileSourceConfig)
        if config.url is not None:
            try:
                reply = HostFetch({}, config.allowed_hosts).fetch(
                    config.url, within=config.timeout_seconds
                )
            except FetchError as exc:
                raise self._fail(str(exc)) from exc
            if not 200 <= reply.status < 300:
                raise self._fail(f"{config.url} answered HTTP {reply.status}.")
            self.log.add("info", f"fetched {config.url} ({len(reply.body):,} bytes)")
            return reply.body
        assert config.path is not None
        settings = self.context.settings
        try:
            opened, raw = read_allowed_file(
                file_path(config.path, settings), settings.allowed_roots
            )
        except (PathNotAllowedError, FileReadError) as exc:
            raise self._fail(str(exc)) from exc
        # Checked on what was opened: core.db and the data files hold every project's
        # configs, secrets and records, whichever name led to them.
        if manifold_owned(opened, settings, self.context.data_folders):
            raise self._fail(
                f"path {config.path!r} opened {str(opened)!r}, one of Manifold's own files"
                " (core.db, data-sources/, archive/ or a project's data folder). Point it at a"
                " file of your own."
            )
        if raw.startswith(SQLITE_HEADER):
            raise self._fail(
                f"{str(opened)!r} is a SQLite database (a Manifold file or backup?), not"
                f" {self.source.type.upper()}. Point 'path' at a {self.source.type} file."
            )
        self.log.add("info", f"read {opened} ({len(raw):,} bytes)")
        return raw

    def _text(self, raw: bytes) -> str:
        config = self.source.config
        assert isinstance(config, FileSourceConfig)
        try:
            return raw.decode(config.encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise self._fail(
                f"the file is not valid {config.encoding} ({exc}). Set 'encoding' to the file's"
                " encoding, e.g. 'latin-1'."
            ) from exc

    def records(self) -> Iterator[dict[str, Any]]:
        """A JSON array is parsed whole before its first record is read, so with no cursor to
        filter it (which can fail on a record) it is handed over as it is (RecordChunks); CSV
        and JSON Lines are parsed a record at a time as the import asks, so that a record's
        error comes before a later line's."""
        config = self.source.config
        assert isinstance(config, FileSourceConfig)
        if (
            isinstance(config, JsonConfig)
            and config.format != "jsonl"
            and config.cursor_field is None
        ):
            return RecordChunks(self._array(), parsed=True)
        return self._records()

    def _array(self) -> Iterator[list[Any]]:
        config = self.source.config
        assert isinstance(config, JsonConfig)
        yield self._document(self._text(self._read()), config)
        self._finished = True

    def _records(self) -> Iterator[dict[str, Any]]:
        config = self.source.config
        assert isinstance(config, FileSourceConfig)
        rows = self._rows(self._text(self._read()))
        if config.cursor_field is None:
            yield from map(itemgetter(1), rows)
        else:
            yield from self._past_cursor(rows, config.cursor_field)
        self._finished = True

    def _rows(self, text: str) -> Iterator[tuple[str, Any]]:
        """Each record with where it is in the file, for errors that name it."""
        config = self.source.config
        if isinstance(config, CsvConfig):
            return self._csv(text, config)
        assert isinstance(config, JsonConfig)
        return self._json(text, config)

    def _past_cursor(self, rows: Iterator[tuple[str, Any]], field: str) -> Iterator[Any]:
        state = self.context.state
        try:
            cursor = CursorField(field, state, _CURSOR_HINTS[self.source.type])
            for where, record in rows:
                if cursor.passes(record, where):
                    yield record
        except CursorError as exc:
            raise self._fail(f"{exc} Nothing was imported.") from exc
        self.log.add("info", cursor.summary())
        self._state = cursor.final_state(state)

    def _csv(self, text: str, config: CsvConfig) -> Iterator[tuple[str, Any]]:
        try:
            for line, record in csv_source_rows(text, config):
                yield f"CSV line {line}", record
        except CsvFormatError as exc:
            raise self._fail(str(exc)) from exc

    def _json(self, text: str, config: JsonConfig) -> Iterator[tuple[str, Any]]:
        if config.format == "jsonl":
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    where = f"line {number}"
                    yield where, self._loads(line, where)
            return
        for index, record in enumerate(self._document(text, config)):
            yield f"the record at index {index} of the array", record

    def _document(self, text: str, config: JsonConfig) -> list[Any]:
        """The array of records, at `recordsPath`."""
        document = self._loads(text, "the document")
        for part in (config.records_path or "").split("."):
            if part:
                if not isinstance(document, dict) or part not in document:
                    raise self._fail(
                        f"recordsPath {config.records_path!r}: no key {part!r} in the document."
                    )
                document = document[part]
        if not isinstance(document, list):
            raise self._fail(
                f"expected a JSON array of records, found {type(document).__name__}. Set"
                " recordsPath to the key that holds the array."
            )
        return document

    def _loads(self, text: str, where: str) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise self._fail(f"{where} is not valid JSON: {exc}.") from exc

    def final_state(self) -> dict[str, Any] | None:
        """With a cursorField, the state with the greatest value seen as its cursor (the old
        cursor when no row passed it); without one, None: the committed state stays as it is."""
        if not self._finished:
            raise RuntimeError("final_state() is read once records() ran to its end")
        return self._state

    def close(self) -> None:
        """Nothing is held open between reading and yielding."""


class FileRunner:
    def start(self, source: DataSource, context: RunContext) -> FileRun:
        return FileRun(source, context)
