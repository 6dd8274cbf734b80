"""Ids and paths: the checks that run before any file is touched.

Ids become file and folder names, so they are refused unless they fullmatch a safe pattern
(`re.match` with `$` would accept a trailing newline), and every data folder must resolve,
symlinks followed, inside an allowed root.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from manifold_pipelines.errors import InvalidIdError, PathNotAllowedError

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def validate_id(value: object, what: str) -> str:
    """Return `value` if it is a safe id, else raise naming `what` and the rule."""
    if not isinstance(value, str) or ID_PATTERN.fullmatch(value) is None:
        raise InvalidIdError(
            f"{what} id {value!r} is not allowed: ids are 1 to 64 characters of letters, digits,"
            " '_' and '-', starting with a letter or digit. Choose an id such as 'sales-api'."
        )
    return value


def validate_text(value: object, what: str) -> None:
    """Names, descriptions and emails are free text but for NUL, which PostgreSQL's text
    cannot hold and a terminal ends a string at: refused on both engines alike. Other control
    characters are kept and escaped wherever they are printed."""
    if value is not None and (not isinstance(value, str) or "\x00" in value):
        raise InvalidIdError(
            f"{what} {value!r} is not text Manifold can store: give a string without NUL"
            " characters."
        )


def resolve_allowed(path: str | os.PathLike[str], roots: Iterable[Path], what: str) -> Path:
    """Resolve `path` (symlinks followed) and require it to lie inside one of `roots`."""
    resolved = Path(path).expanduser().resolve()
    roots = tuple(roots)
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in roots)
        raise PathNotAllowedError(
            f"{what} {os.fspath(path)!r} resolves to {str(resolved)!r}, outside every allowed root"
            f" ({allowed}). Use a path inside one of them, or add its folder (or a parent"
            " folder) to MANIFOLD_ALLOWED_ROOTS (':'-separated)."
        )
    return resolved
