"""Reading the file given to `manifold import` into records: .json (an array), .jsonl /
.ndjson (one record a line) or .csv. A CSV file is read by the parser CSV sources use, with
the target source's own settings when it is a CSV source (delimiter, declared columns,
encoding, inferTypes), so the same file gives the same version whichever way it arrives."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import orjson

from manifold_pipelines.cli.terminal import escape_controls, progress
from manifold_pipelines.core.source_config import CsvConfig
from manifold_pipelines.errors import RecordsError
from manifold_pipelines.sources.csv_records import CsvFormatError, csv_records, csv_source_records

RECORD_FILES = (".json", ".jsonl", ".ndjson", ".csv")


def read_records(path: Path, csv_config: CsvConfig | None = None) -> list[dict[str, Any]]:
    """The file's records; `csv_config` reads a .csv as that CSV source would."""
    suffix = path.suffix.lower()
    if suffix not in RECORD_FILES:
        # click prints its usage errors itself, so the name is escaped here.
        raise click.BadParameter(
            f"{escape_controls(path.name)}: use a .json, .jsonl or .csv file", param_hint="FILE"
        )
    size = path.stat().st_size
    with progress(f"Reading {path.name}", size) as advance:
        if suffix == ".csv":
            records = _csv(path, csv_config)
        elif suffix == ".json":
            records = _json_array(path)
        else:
            return _json_lines(path, advance)
        advance(size)
        return records


def _not_text(path: Path, encoding: str, exc: Exception, fix: str) -> RecordsError:
    return RecordsError(f"{path} is not valid {encoding} text ({exc}). {fix}")


def _csv(path: Path, config: CsvConfig | None) -> list[dict[str, Any]]:
    encoding = config.encoding if config else "utf-8"
    try:
        text = path.read_bytes().decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        fix = (
            "Set the source's 'encoding' to the file's encoding, e.g. 'latin-1'."
            if config
            else "Save it as UTF-8, or import it into a CSV source whose 'encoding' is the file's."
        )
        raise _not_text(path, encoding, exc, fix) from exc
    try:
        return list(csv_source_records(text, config) if config else csv_records(text))
    except CsvFormatError as exc:
        raise RecordsError(f"{path}: {exc}") from exc


def _json_array(path: Path) -> list[dict[str, Any]]:
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise RecordsError(f"{path} is not valid JSON: {exc}.") from exc
    if not isinstance(data, list):
        raise RecordsError(f"{path}: expected a JSON array of records, got {type(data).__name__}.")
    return data


def _json_lines(path: Path, advance: Callable[[int], None]) -> list[dict[str, Any]]:
    records = []
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for number, line in enumerate(handle, start=1):
                advance(len(line))
                if line.strip():
                    try:
                        records.append(orjson.loads(line))
                    except orjson.JSONDecodeError as exc:
                        raise RecordsError(
                            f"{path} line {number} is not valid JSON: {exc}"
                        ) from exc
    except UnicodeDecodeError as exc:
        raise _not_text(path, "utf-8", exc, "JSON Lines are UTF-8: save it as UTF-8.") from exc
    return records
