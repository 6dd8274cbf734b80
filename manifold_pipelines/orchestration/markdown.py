"""Markdown pieces for what the Dagster UI renders: code spans and blocks that no content can
break out of, and JSON values shown whole or summarised, never cut in the middle."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_VALUE_CHARS = 300


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def code(text: str) -> str:
    """An inline code span: fenced by more backticks than any run inside, so a value holding
    backticks cannot end it early; Markdown and HTML inside are shown, not interpreted."""
    fence = "`" * (_longest_backtick_run(text) + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def code_block(text: str, language: str = "", *, max_lines: int) -> str:
    """A fenced block of the first `max_lines` lines, and how many lines were left out."""
    lines = text.splitlines()
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    block = "\n".join([f"{fence}{language}", *lines[:max_lines], fence])
    rest = len(lines) - max_lines
    return f"{block}\n\n({counted(rest, 'more line')})" if rest > 0 else block


def counted(number: int, noun: str) -> str:
    """ "1 field", "2 fields": `noun` in the singular, made plural by an 's'."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def json_text(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


def is_too_long(value: Any) -> bool:
    return len(json_text(value)) > MAX_VALUE_CHARS


def json_value(value: Any) -> str:
    """A JSON value as code, whole; one too long to show is described instead of cut, so what
    is shown is never half a value."""
    text = json_text(value)
    if len(text) <= MAX_VALUE_CHARS:
        return code(text)
    return f"({json_size(value) or 'a value of ' + counted(len(text), 'character')})"


def json_size(value: Any) -> str | None:
    """How big a string, list or object is, in words; None for other values."""
    if isinstance(value, str):
        return f"a string of {counted(len(value), 'character')}"
    if isinstance(value, list):
        return f"a list of {counted(len(value), 'item')}"
    if isinstance(value, dict):
        return f"an object with {counted(len(value), 'field')}"
    return None
