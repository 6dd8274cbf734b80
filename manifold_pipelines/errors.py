"""Every failure a user can cause, as one family of exceptions.

Each message names the object, the rule that was broken and what to do about it, so that
the CLI, the Dagster run log and a Python caller can all show it as it is.
"""

from __future__ import annotations

from pydantic import ValidationError


class ManifoldError(Exception):
    """Base of every error a user of Manifold can cause and act on."""


class InvalidIdError(ManifoldError):
    """An id that would be unsafe or ambiguous as a file or folder name."""


class PathNotAllowedError(ManifoldError):
    """A path that resolves outside every allowed root."""


class NotFoundError(ManifoldError):
    """A project, data source, version or user that does not exist."""


class AlreadyExistsError(ManifoldError):
    """An id that is already taken."""


class ConfigError(ManifoldError):
    """A data source or quality configuration that does not validate."""


class RecordsError(ManifoldError):
    """Records handed to an import that cannot be stored or diffed as they are."""


class DiffKeyError(RecordsError):
    """Records whose diff key is missing, null, not a scalar or duplicated."""


class StorageError(ManifoldError):
    """A data or core file that cannot be opened, is corrupt, or is of an unknown format."""


class DatabaseError(StorageError):
    """The database engine refused or failed a statement (disk full, a lost connection)."""


class ConstraintError(DatabaseError):
    """A write that a UNIQUE or foreign key constraint refused: usually an id already taken."""


class StateConflictError(ManifoldError):
    """A run whose source's state another import moved on while it ran."""


class VersionStatusError(ManifoldError):
    """A version operation that its current status does not allow."""


class DeploymentError(ManifoldError):
    """A deployment setting in the environment (which executor, which broker) that is
    missing or names nothing Manifold knows."""


def describe_validation(exc: ValidationError) -> str:
    """Pydantic's report as one line a user can act on: each problem with where it is."""
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "the whole value"
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown key {location!r}")
        else:
            problems.append(f"{location!r}: {error['msg']}")
    return "; ".join(problems)


MAX_ERROR_CHARS = 16 * 1024
_NOTE_ROOM = 64


def without_nul(text: str) -> str:
    """A log or error text with each NUL character written as the escape `\\u0000`: a
    script may print one, and PostgreSQL's text cannot hold it, so both engines store it
    alike, visibly."""
    return text.replace("\x00", "\\u0000") if "\x00" in text else text


def cap_error_text(text: str) -> str:
    """An error as it is stored and shown: at most MAX_ERROR_CHARS, its end replaced by a note
    of how much was cut, NUL characters escaped. Its text may come from a script or from
    records, at any size; kept whole it would be written to the data file and core.db at
    every failure and printed whole. Capping a capped text changes nothing, so each place
    that records errors caps."""
    text = without_nul(text)
    if len(text) <= MAX_ERROR_CHARS:
        return text
    kept = MAX_ERROR_CHARS - _NOTE_ROOM
    return f"{text[:kept]}... ({len(text) - kept:,} more characters cut)"
