"""Telling a running Dagster webserver to reload the code locations after core.db changed.

Nothing watches core.db; a reload makes new and changed sources appear. It is a plain
GraphQL call (the library never imports Dagster), made only when a webserver URL is
configured (`dagster` setting or MANIFOLD_DAGSTER_URL), and a webserver that is not there
is reported, never an error: the change itself is already committed. With the projects
spread over several locations (code_locations.py), only the locations that load the changed
projects reload; a webserver that runs the single-location workspace.yaml does not know them,
and reloads its one location instead.
"""

from __future__ import annotations

import functools
import inspect
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import orjson

from manifold_pipelines.code_locations import locations_of
from manifold_pipelines.core.global_settings import DagsterSettings, load_setting
from manifold_pipelines.errors import ConfigError

if TYPE_CHECKING:
    from manifold_pipelines.catalog import Catalog

P = ParamSpec("P")
T = TypeVar("T")

_MUTATION = """
mutation Reload($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) {
    __typename
    ... on WorkspaceLocationEntry { name loadStatus }
    ... on PythonError { message }
    ... on RepositoryLocationNotFound { message }
  }
}
"""
_NOT_FOUND = "RepositoryLocationNotFound"


def reload_target(settings: dict[str, Any]) -> tuple[str, DagsterSettings] | None:
    """(webserver URL, the `dagster` setting), or None when no webserver is configured."""
    try:
        dagster = load_setting(settings, "dagster")
    except ConfigError:  # stored before settings were validated: never fail the change
        dagster = DagsterSettings()
    url = os.environ.get("MANIFOLD_DAGSTER_URL") or dagster.webserver_url
    return (url.rstrip("/"), dagster) if url else None


def request_reloads(
    url: str, dagster: DagsterSettings, projects: Collection[str] | None, timeout: float = 30.0
) -> str:
    """Reload the locations that load `projects` (None: every location); returns what
    happened, in words, one location after the other."""
    if projects is None:
        names = [dagster.location_name, *sorted(dagster.locations)]
    else:
        names = locations_of(dagster, projects)
    said = []
    missing = False
    for name in names:
        kind, text = _reload(url, name, timeout)
        if kind == "Unreachable":
            return text
        if kind == _NOT_FOUND and name != dagster.location_name:
            missing = True
        else:
            said.append(text)
    if missing and dagster.location_name not in names:
        said.append(_reload(url, dagster.location_name, timeout)[1])
    return "; ".join(said)


def _reload(url: str, location: str, timeout: float) -> tuple[str, str]:
    """(the answer's type, what happened in words)."""
    body = orjson.dumps({"query": _MUTATION, "variables": {"name": location}})
    request = urllib.request.Request(
        f"{url}/graphql", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = orjson.loads(response.read())
    except TimeoutError:
        return "Timeout", (
            f"the Dagster webserver at {url} did not finish reloading {location!r} within"
            f" {timeout:.0f} s; it goes on reloading"
        )
    except (urllib.error.URLError, OSError, orjson.JSONDecodeError) as exc:
        return "Unreachable", (
            f"could not reach the Dagster webserver at {url} ({_why(exc)}); the catalogue is"
            " saved, the webserver shows what it loaded last. Press Reload on the UI's code"
            " locations page once it runs, or correct the URL (MANIFOLD_DAGSTER_URL or the"
            " dagster setting's webserverUrl)."
        )
    data = answer.get("data") if isinstance(answer, dict) else None
    result = data.get("reloadRepositoryLocation") if isinstance(data, dict) else None
    if not isinstance(result, dict):  # another server at that URL, or another GraphQL API
        errors = answer.get("errors") if isinstance(answer, dict) else None
        return "Error", (
            f"the server at {url} did not answer as a Dagster webserver"
            f"{f' ({str(errors)[:200]})' if errors else ''}; the catalogue is saved. Check"
            " that MANIFOLD_DAGSTER_URL or the dagster setting's webserverUrl names the"
            " Dagster webserver."
        )
    kind = result.get("__typename") or "Error"
    if kind == "WorkspaceLocationEntry":
        return kind, f"reloaded code location {location!r} ({result.get('loadStatus')})"
    return kind, f"reload of {location!r} failed: {result.get('message') or answer.get('errors')}"


def _why(exc: Exception) -> str:
    """Why the webserver was not reached, as people say it ("Connection refused"), not as
    urllib prints it ("<urlopen error [Errno 111] Connection refused>")."""
    if isinstance(exc, orjson.JSONDecodeError):
        return "its answer is not JSON"
    reason = exc.reason if type(exc) is urllib.error.URLError else exc
    return getattr(reason, "strerror", None) or str(reason)


def reloads_dagster(method: Callable[P, T]) -> Callable[P, T]:
    """Catalogue changes that change the Dagster definitions end with a reload of the code
    locations that load what changed: the project the call names (the argument its access
    rule reads) and the projects its sources feed, whose dependencies on them change too. Those
    are read before the change, since deleting a source deletes its relationships. ParamSpec
    keeps the wrapped method's signature for type checkers and editors."""
    argument = method.__manifold_access__.argument  # type: ignore[attr-defined]
    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        catalog: Catalog = args[0]  # type: ignore[assignment]
        named = str(signature.bind(*args, **kwargs).arguments[argument])
        changed = catalog._projects_fed_by(named.partition("/")[0])
        result = method(*args, **kwargs)
        catalog.reload_dagster(changed)
        return result

    return wrapper
