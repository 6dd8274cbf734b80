"""What of a source's config the Dagster UI must not show, and hiding it in text the UI does
show. The UI has no Manifold roles: anyone who can open it sees what an asset emits, and
Dagster's event log keeps it. A javascript source's variables (often API keys) and env values
and a URL's password are replaced by where they come from, `[hidden: variables.apiKey]`."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

from manifold_pipelines.core.source_config import (
    FileSourceConfig,
    JavascriptConfig,
    SourceConfig,
)

# NIST's least length for a password: shorter values are too likely to be ordinary words in a
# log line (a region, a format) to hide every occurrence of them.
MIN_HIDDEN_CHARS = 8


class Secrets:
    """Secret values by where they come from; `hide` replaces each in a text."""

    def __init__(self, origins: dict[str, str]) -> None:
        # A script prints a secret as it is, inside JSON or inside a URL: hide all three forms.
        self._origins = {
            form: origin
            for value, origin in origins.items()
            if len(value) >= MIN_HIDDEN_CHARS
            for form in (value, json.dumps(value, ensure_ascii=False)[1:-1], quote(value, safe=""))
        }
        # Longest first, so a secret that contains another is hidden whole.
        alternatives = sorted(self._origins, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, alternatives))) if alternatives else None

    def hide(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda found: f"[hidden: {self._origins[found[0]]}]", text)


def secrets_of(config: SourceConfig) -> Secrets:
    """The secrets a run of this config may print: each string in its variables (at any
    depth), the values of its env variables in this process's environment, a URL's password."""
    origins: dict[str, str] = {}
    if isinstance(config, JavascriptConfig):
        origins.update((value, origin) for origin, value in _strings(config.variables, "variables"))
        origins.update((os.environ.get(name, ""), f"env.{name}") for name in config.env)
    if isinstance(config, FileSourceConfig) and config.url:
        origins[urlsplit(config.url).password or ""] = "url password"
    return Secrets(origins)


def _strings(value: Any, origin: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield origin, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{origin}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{origin}[{index}]")
