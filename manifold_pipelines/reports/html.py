"""The visual diff: one self-contained HTML page (inline CSS, no scripts, no network) with a
summary, per-field change counts and the changed records side by side."""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

import orjson

from manifold_pipelines.versions.models import DataDiff

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem; color: #1d2433; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.cards { display: flex; gap: 1rem; } .card { padding: .8rem 1.2rem; border-radius: 8px; }
.added { background: #e6f6ea; } .removed { background: #fdeaea; } .modified { background: #fff4db; }
.card b { display: block; font-size: 1.6rem; }
table { border-collapse: collapse; width: 100%; margin-top: .5rem; }
th, td { border: 1px solid #d8dde6; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #f2f4f8; } td.old { background: #fdeaea; } td.new { background: #e6f6ea; }
code { font-family: ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
"""


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return f"<code>{escape(text)}</code>"


def _record(record: dict[str, Any], key_fields: tuple[str, ...]) -> str:
    return ", ".join(f"{escape(k)}={_value(record.get(k))}" for k in key_fields) or _value(record)


def render_html(
    diff: DataDiff, *, title: str, key_fields: tuple[str, ...], limit: int = 500
) -> str:
    field_counts: Counter[str] = Counter()
    for item in diff.details.modified:
        field_counts.update(item.changes.keys())
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        "<div class=cards>",
        f"<div class='card added'><b>{diff.added}</b>added</div>",
        f"<div class='card removed'><b>{diff.removed}</b>removed</div>",
        f"<div class='card modified'><b>{diff.modified}</b>modified</div>",
        f"<div class=card><b>{diff.total_changes}</b>changes in all</div></div>",
        "<h2>Changes per field</h2><table><tr><th>field</th><th>records changed</th></tr>",
        *(f"<tr><td>{escape(f)}</td><td>{n}</td></tr>" for f, n in field_counts.most_common()),
        "</table><h2>Modified records</h2>",
        "<table><tr><th>record</th><th>field</th><th>change</th><th>old</th><th>new</th></tr>",
    ]
    for item in diff.details.modified[:limit]:
        for name, change in item.changes.items():
            parts.append(
                f"<tr><td>{_record(item.new, key_fields)}</td><td>{escape(name)}</td>"
                f"<td>{change.type}</td><td class=old>{_value(change.old_value)}</td>"
                f"<td class=new>{_value(change.new_value)}</td></tr>"
            )
    parts.append("</table>")
    for kind, records, css in (
        ("Added", diff.details.added, "new"),
        ("Removed", diff.details.removed, "old"),
    ):
        parts.append(f"<h2>{kind} records</h2><table>")
        parts += [f"<tr><td class={css}>{_value(r)}</td></tr>" for r in records[:limit]]
        parts.append("</table>")
    shown = max(len(diff.details.modified), len(diff.details.added), len(diff.details.removed))
    if shown > limit:
        parts.append(f"<p>Showing the first {limit} records of each kind.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
