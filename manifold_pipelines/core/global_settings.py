"""Manifold-wide settings (core.db's `settings` table), one pydantic model per setting.

A setting reaches every project (where alerts go, which host variables scripts may read), so
each is validated when it is written: a bad value is refused then, rather than breaking alert
evaluation or runs for everyone later. Secret values are shown to instance admins only.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from manifold_pipelines.errors import ConfigError
from manifold_pipelines.paths import ID_PATTERN

HIDDEN = "(hidden: only instance admins see it)"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL with a host")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class SettingModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=to_camel)


class AlertSettings(SettingModel):
    """Thresholds of the alert rules and where alerts go."""

    webhook_url: HttpUrl | None = Field(
        default=None, description="Secret: webhook URLs usually carry their token."
    )
    webserver_url: HttpUrl = "http://127.0.0.1:3000"
    consecutive_failures: Annotated[int, Field(ge=1)] = 3
    slow_import_seconds: Annotated[float, Field(gt=0)] = 300
    slow_import_factor: Annotated[float, Field(gt=1)] = 3.0
    slow_import_min_seconds: Annotated[float, Field(ge=0)] = 5.0
    storage_limit_bytes: Annotated[int, Field(gt=0)] | None = None
    total_storage_limit_bytes: Annotated[int, Field(gt=0)] | None = None


LOCATION_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$"
PROJECT_ID = f"^{ID_PATTERN.pattern}$"


class DagsterSettings(SettingModel):
    """The webserver that catalogue changes ask to reload, and how the projects are spread over
    code locations. `location_name` holds the alert sensors, the retention job and every
    project that `locations` (location name -> project ids, written by `manifold workspace`)
    does not list."""

    webserver_url: HttpUrl | None = None
    location_name: Annotated[str, Field(min_length=1, max_length=200)] = "manifold_pipelines"
    locations: dict[
        Annotated[str, Field(pattern=LOCATION_NAME)],
        list[Annotated[str, Field(pattern=PROJECT_ID)]],
    ] = {}

    @model_validator(mode="after")
    def _each_project_in_one_location(self) -> DagsterSettings:
        if self.location_name in self.locations:
            raise ValueError(
                f"{self.location_name!r} is the locationName (alerts, retention, unlisted"
                " projects); it cannot also be one of the locations"
            )
        seen: dict[str, str] = {}
        for location, projects in self.locations.items():
            for project in projects:
                if project in seen:
                    raise ValueError(
                        f"project {project!r} is in two locations, {seen[project]!r} and"
                        f" {location!r}; a project's assets load in exactly one"
                    )
                seen[project] = location
        return self


class SandboxSettings(SettingModel):
    """Host environment variables that a source's `env` may name once users exist."""

    allowed_env: list[Annotated[str, Field(pattern=ENV_NAME)]] = []


def check_env_allowed(names: list[str], sandbox: SandboxSettings, label: str) -> None:
    refused = sorted(set(names) - set(sandbox.allowed_env))
    if refused:
        raise ConfigError(
            f"{label}: env names {', '.join(map(repr, refused))}, which the sandbox allow-list"
            " does not hold. An instance admin adds host variables with"
            " set_setting('sandbox', {'allowedEnv': [...]})"
            " (manifold settings set sandbox '{\"allowedEnv\": [...]}')."
        )


SETTING_MODELS: dict[str, type[SettingModel]] = {
    "alerts": AlertSettings,
    "dagster": DagsterSettings,
    "sandbox": SandboxSettings,
}
SECRET_FIELDS: dict[str, tuple[str, ...]] = {"alerts": ("webhookUrl",)}


def validate_setting(key: str, value: Any) -> dict[str, Any]:
    """The setting as it will be stored (camelCase, as given), or a ConfigError naming the
    field and the rule."""
    model = SETTING_MODELS.get(key)
    if model is None:
        known = ", ".join(sorted(SETTING_MODELS))
        raise ConfigError(f"Setting {key!r} does not exist. Known settings: {known}.")
    if not isinstance(value, dict):
        raise ConfigError(
            f"Setting {key!r} must be an object of fields, got {type(value).__name__}."
        )
    try:
        parsed = model.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or key}: {error['msg']}"
            for error in exc.errors()
        )
        known = ", ".join(sorted(field.alias or name for name, field in model.model_fields.items()))
        raise ConfigError(
            f"Setting {key!r} is not valid: {problems}. Its fields are: {known}."
        ) from exc
    return parsed.model_dump(by_alias=True, exclude_unset=True)


def load_setting(settings: dict[str, Any], key: str) -> Any:
    """A stored setting as its model; one written before settings were validated and now
    invalid is a clear error instead of a crash in every sensor tick."""
    model = SETTING_MODELS[key]
    return model.model_validate(validate_setting(key, settings.get(key, {})))


def redact_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as anyone but an instance admin sees them: secrets replaced by a notice, and
    only the settings users write (internal bookkeeping such as a legacy migration's ledger
    names every migrated project and source)."""
    shown = {key: value for key, value in settings.items() if key in SETTING_MODELS}
    for key, fields in SECRET_FIELDS.items():
        value = shown.get(key)
        if isinstance(value, dict):
            shown[key] = {
                name: HIDDEN if name in fields and field is not None else field
                for name, field in value.items()
            }
    return shown
