"""PostgreSQL URLs in messages: refusing one the driver would misread, and never showing its
password (in any of the forms a driver error may quote it)."""

from __future__ import annotations

import contextlib
import re
from urllib.parse import unquote

import psycopg
from psycopg.conninfo import conninfo_to_dict

from manifold_pipelines.errors import ConfigError

_USERINFO = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:@/]*):(?P<password>.*)@"
)


def _passwords(url: str) -> set[str]:
    """Every form the URL's password may take in a message: as written, decoded, and as the
    driver parsed it (from the user part or a `password=` parameter)."""
    found: set[str] = set()
    written = _USERINFO.match(url)
    if written:  # up to the last @: a password may hold a raw @
        found |= {written["password"], unquote(written["password"])}
    with contextlib.suppress(psycopg.Error):
        parsed = conninfo_to_dict(url).get("password")
        if parsed:
            found.add(str(parsed))
    return {form for form in found if form}


def check_url(url: str) -> None:
    """Refuse a URL whose user part holds a raw @: the driver would take the password's end
    for the host and quote it in its errors."""
    written = _USERINFO.match(url)
    if written and "@" in written["password"]:
        raise ConfigError(
            "The database URL's password holds a raw '@' (the URL is not shown). Write it as"
            " %40, e.g. postgresql://user:p%40ss@host:5432/dbname."
        )


def redact(text: str, url: str) -> str:
    """`text` (a message, possibly the driver's, quoting the URL) without the URL's password."""
    for password in sorted(_passwords(url), key=len, reverse=True):
        text = text.replace(password, "***")
    return text


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return redact(url, url)
