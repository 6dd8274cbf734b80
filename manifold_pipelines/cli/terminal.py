"""Everything the CLI prints goes through here, questions and progress labels too. A
terminal obeys control characters, so a record value, a name or an error holding
`ESC ]0;...BEL` could retitle the window, clear it or fake output; they are printed as
visible `\\uXXXX` escapes instead (which JSON output reads back as the same values), keeping
only tab and newline."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    # rich is imported where a table is drawn: it is not needed for the CLI to start.
    from rich.table import Table
    from rich.text import Text

# C0 but tab and newline, DEL, C1 (0x9b is a one-byte CSI), and the bidi overrides that
# make text read in another order than it is stored.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


# What `_CONTROLS` can match in JSON that orjson wrote, as UTF-8 bytes: DEL, and the lead
# byte of each C1 control (0xc2) and bidi override (0xe2); orjson escapes C0 controls itself.
_JSON_CONTROL_BYTES = (b"\x7f", b"\xc2", b"\xe2")


def escape_controls(text: str) -> str:
    return _CONTROLS.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    click.echo(escape_controls(message), err=err, nl=nl)


def echo_json_bytes(data: bytes | bytearray) -> None:
    """JSON text from orjson, written as its UTF-8 bytes with controls escaped as `echo`
    escapes them. Scanning text for them costs more than writing it (0.7 s for 200 MB) and a
    byte search a tenth of that, so only text holding one of their bytes is scanned."""
    if any(byte in data for byte in _JSON_CONTROL_BYTES):
        data = escape_controls(data.decode()).encode()
    click.echo(data, nl=False)


def confirm(question: str) -> None:
    """Ask yes or no; anything but yes aborts the command (exit 1)."""
    click.confirm(escape_controls(question), abort=True)


@contextmanager
def progress(label: str, length: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on standard error, so standard output stays data; yields the function
    that advances it."""
    with click.progressbar(length=length, label=escape_controls(label), file=sys.stderr) as bar:
        yield bar.update


def text(value: str, style: str = "") -> Text:
    """A table cell or title: never parsed for rich markup, control characters escaped."""
    from rich.text import Text

    return Text(escape_controls(value), style=style)


def print_table(table: Table) -> None:
    """Rich styles the table itself; every piece of data in it must be a `text()`."""
    from rich.console import Console

    Console().print(table)


def echo_rows(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A listing as plain aligned columns under a header row, like `kubectl get`: readable,
    and still one line per item for grep and cut (`--json` is the form for programs)."""
    cells = [
        [escape_controls("" if value is None else str(value)) for value in row] for row in rows
    ]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        click.echo(
            "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        )
