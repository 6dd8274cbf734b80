"""The configuration of a data source, one pydantic model per source type.

Keys are camelCase as users write them in JSON. Unknown keys are refused with the list of
known ones: a typo such as `difKey` must not silently fall back to a default.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from itertools import chain
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from manifold_pipelines.core.metric_definitions import METRICS, METRICS_BY_NAME
from manifold_pipelines.errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20

MAX_KEEP_DAYS = 36_500
"""A hundred years: beyond it the cut-off date leaves the calendar; leave keepDays unset instead."""


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=to_camel)


class Threshold(ConfigModel):
    """Bounds of one metric: crossing `warn` gives a warning, crossing `fail` a failure."""

    warn: float | None = None
    fail: float | None = None


class QualityThresholds(ConfigModel):
    """What the code reads of a `quality` block; the block's model, QualityConfig, adds one
    threshold key per metric of the registry (core/metric_definitions.py)."""

    completeness_fields: dict[str, Threshold] = {}
    blocking: list[str] = Field(
        default=[],
        description="Metrics whose failure holds a new version back instead of publishing it.",
    )

    @field_validator("blocking")
    @classmethod
    def _known_metrics(cls, blocking: list[str]) -> list[str]:
        unknown = [name for name in blocking if name not in METRICS_BY_NAME]
        if unknown:
            raise ValueError(
                f"{', '.join(map(repr, unknown))} is not a metric; use {', '.join(METRICS_BY_NAME)}"
            )
        return blocking

    def threshold(self, metric: str, field: str | None = None) -> Threshold:
        if field is not None and field in self.completeness_fields:
            return self.completeness_fields[field]
        value: Threshold = getattr(self, metric)
        return value


if TYPE_CHECKING:
    QualityConfig = QualityThresholds
else:
    QualityConfig = create_model(
        "QualityConfig",
        __base__=QualityThresholds,
        __doc__="Thresholds per metric (camelCase keys), per-field completeness, blocking.",
        **{
            metric.name: (
                Threshold,
                Field(default_factory=partial(Threshold, warn=metric.warn, fail=metric.fail)),
            )
            for metric in METRICS
        },
    )


class RetentionConfig(ConfigModel):
    """Versions outside every keep rule are pruned; the latest published is always kept.

    Strict: `true` is not one version, and keeping 0 versions or -1 days means nothing."""

    keep_versions: Annotated[int, Field(ge=1, strict=True)] | None = None
    keep_days: (
        Annotated[float, Field(gt=0, le=MAX_KEEP_DAYS, strict=True, allow_inf_nan=False)] | None
    ) = None


class SourceConfig(ConfigModel):
    """Keys every source type shares: diffing, quality, retention and how Dagster shows it."""

    mode: Literal["snapshot", "incremental"] = Field(
        default="snapshot",
        description="snapshot: a record missing from an import is removed; incremental: records"
        " are upserts by the diff key and deletions are explicit.",
    )
    enable_diff: bool = True
    diff_key: str | Annotated[list[str], Field(min_length=1)] = "id"
    keyless_diff: bool = Field(
        default=False, description="Match records by content hash instead of a key."
    )
    diff_ignore_fields: list[str] = []
    diff_tolerance: dict[str, Annotated[float, Field(ge=0)]] = {}
    # Factories, not default instances: pydantic deep-copies a default model for every config
    # it validates, and the catalogue validates every source's config at each Dagster load.
    quality: QualityConfig = Field(default_factory=QualityConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    description: str | None = None
    owners: list[Annotated[str, Field(pattern=r"^(team:[A-Za-z0-9_.-]+|[^@\s]+@[^@\s]+)$")]] = []
    tags: dict[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,63}$")],
        Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{0,63}$")],
    ] = {}

    @property
    def diff_key_fields(self) -> tuple[str, ...]:
        return (self.diff_key,) if isinstance(self.diff_key, str) else tuple(self.diff_key)


class MockResponse(ConfigModel):
    status: Annotated[int, Field(ge=100, le=599)] = 200
    headers: dict[str, str] = {}
    body: Any = None


SCRIPT_CONTEXT_NAMES = frozenset(
    {
        "__manifold",
        "call_python",
        "dukpy",
        "console",
        "utils",
        "env",
        "inputs",
        "emit",
        "deleteRecords",
        "state",
        "fetch",
        "setTimeout",
        "clearTimeout",
    }
)


ADDED_CONTEXT_NAMES = frozenset({"state", "deleteRecords"})
"""Names the script context gained (with incremental imports) after configs could already
use them as variables. A stored config holding one keeps loading, since listing sources must
not fail; its runs are refused until the variable is renamed (`variables_hiding_context`)."""


def variables_hiding_context(variables: dict[str, Any]) -> list[str]:
    return sorted(set(variables) & SCRIPT_CONTEXT_NAMES)


class JavascriptConfig(SourceConfig):
    script: Annotated[str, Field(min_length=1)]
    variables: dict[str, Any] = {}
    env: list[str] = []
    mock_responses: dict[str, MockResponse] = {}
    allowed_hosts: list[str] = []
    timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30
    memory_limit_mb: Annotated[int, Field(ge=32, le=16384)] = 256
    max_output_mb: Annotated[int, Field(ge=1, le=65536)] = Field(
        default=512,
        description=(
            "The most a run may send the host, records, console and errors together: the"
            " host holds and writes what it receives, so this bounds its memory and disk."
        ),
    )

    @field_validator("variables")
    @classmethod
    def _no_context_names(cls, variables: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """A variable named like part of the script context would be overwritten by it
        (or, for the sandbox's own names, fail every run): refuse it when saved."""
        taken = variables_hiding_context(variables)
        if info.context and info.context.get("stored"):
            taken = [name for name in taken if name not in ADDED_CONTEXT_NAMES]
        if taken:
            raise ValueError(
                f"{', '.join(map(repr, taken))} would hide the script context's own"
                " name; rename the variable"
            )
        return variables


class FileSourceConfig(SourceConfig):
    """A file inside an allowed root, or a URL whose host is on `allowedHosts`."""

    path: str | None = None
    url: str | None = None
    encoding: str = "utf-8"
    allowed_hosts: list[str] = []
    timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=30, description="The most a `url` fetch may take in all, headers and body."
    )
    cursor_field: Annotated[str, Field(min_length=1)] | None = Field(
        default=None,
        description=(
            "Read only the rows whose value in this field is greater than the state's cursor,"
            " and make the greatest value seen the new cursor: numbers compare as numbers,"
            " text as text (ISO dates sort correctly). Meant for mode incremental: in mode"
            " snapshot the rows left out would be removed."
        ),
    )

    @model_validator(mode="after")
    def _one_location(self) -> FileSourceConfig:
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of 'path' or 'url'")
        return self


ColumnType = Literal["string", "integer", "number", "boolean"]


class CsvConfig(FileSourceConfig):
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    columns: dict[str, ColumnType] = {}
    infer_types: bool = Field(
        default=True,
        description=(
            "Read each value written as a plain ASCII number or true/false as that type, on"
            " its own: a value's type never depends on other rows."
        ),
    )

    @model_validator(mode="after")
    def _comparable_cursor(self) -> CsvConfig:
        if self.cursor_field is not None and self.columns.get(self.cursor_field) == "boolean":
            raise ValueError(
                f"cursorField {self.cursor_field!r} is declared boolean in columns; a cursor"
                " is a number or text"
            )
        return self


class JsonConfig(FileSourceConfig):
    format: Literal["json", "jsonl"] = "json"
    records_path: str | None = Field(
        default=None, description="Dotted path to the array of records inside the document."
    )


SOURCE_CONFIG_TYPES: dict[str, type[SourceConfig]] = {
    "javascript": JavascriptConfig,
    "csv": CsvConfig,
    "json": JsonConfig,
}


def _known_keys(model: type[BaseModel]) -> list[str]:
    return sorted(field.alias or name for name, field in model.model_fields.items())


def parse_source_config(
    source_type: str, config: dict[str, Any], *, where: str, stored: bool = False
) -> SourceConfig:
    """Validate `config` for `source_type`, turning pydantic's report into one clear error.
    A `stored` config (read back from the catalogue) may hold a variable named like a later
    addition to the script context (ADDED_CONTEXT_NAMES)."""
    model = SOURCE_CONFIG_TYPES.get(source_type)
    if model is None:
        raise ConfigError(
            f"{where}: unknown source type {source_type!r}. Use one of:"
            f" {', '.join(sorted(SOURCE_CONFIG_TYPES))}."
        )
    if not isinstance(config, dict):
        raise ConfigError(f"{where}: config must be a JSON object, got {type(config).__name__}.")
    try:
        return model.model_validate(config, context={"stored": stored})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = ".".join(str(part) for part in error["loc"]) or "config"
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown key {location!r}")
            else:
                problems.append(f"{location!r}: {error['msg']}")
        raise ConfigError(
            f"{where}: invalid {source_type} config: {'; '.join(problems)}."
            f" Known keys: {', '.join(_known_keys(model))}."
        ) from exc


def check_config_size(config: Any, *, where: str) -> None:
    """A config lives in core.db and is read by every run, sensor and reload: refuse one
    that is over 1 MiB as JSON, or that JSON cannot hold at all. Its size is first counted
    up to the limit: a config built in Python may share one value many times over, and
    serialising it whole to find out could take gigabytes."""
    if _json_size_at_least(config, MAX_CONFIG_BYTES) > MAX_CONFIG_BYTES:
        raise _too_big(where, f"over {MAX_CONFIG_BYTES:,}")
    try:
        size = len(orjson.dumps(config))
    except orjson.JSONEncodeError as exc:
        raise ConfigError(
            f"{where}: the config cannot be written as JSON ({exc}). Use string keys and plain"
            " JSON values."
        ) from exc
    if size > MAX_CONFIG_BYTES:
        raise _too_big(where, f"{size:,}")


def _too_big(where: str, size: str) -> ConfigError:
    return ConfigError(
        f"{where}: the config is {size} bytes as JSON, more than the 1 MiB a config may have."
        " Keep data out of configs: read it through a file source or fetch."
    )


def _json_size_at_least(value: Any, limit: int) -> int:
    """A lower bound of `value`'s size as JSON (a string's characters, one byte of
    punctuation per value), counted only until it passes `limit`. The walk keeps one iterator
    per open container, so a shared value costs its count, not a copy, and a value that
    contains itself only counts up to the limit."""
    size = 0
    pending: list[Iterator[Any]] = [iter((value,))]
    while pending and size <= limit:
        item = next(pending[-1], _END)
        if item is _END:
            pending.pop()
            continue
        size += 1 + (len(item) if isinstance(item, str) else 0)
        if isinstance(item, dict):
            pending.append(chain.from_iterable(item.items()))
        elif isinstance(item, (list, tuple)):
            pending.append(iter(item))
    return size


_END = object()


def dump_source_config(config: SourceConfig) -> dict[str, Any]:
    """The config as users write it: camelCase keys, defaults left out."""
    return config.model_dump(mode="json", by_alias=True, exclude_unset=True)
