"""Telling a running Dagster webserver to reload the code location after core.db changed.

Nothing watches core.db; a reload makes new and changed sources appear. It is a plain
GraphQL call (the library never imports Dagster), made only when a webserver URL is
configured (`dagster` setting or MANIFOLD_DAGSTER_URL), and a webserver that is not there
is reported, never an error: the change itself is already committed.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Any

import orjson

DEFAULT_LOCATION = "manifold_pipelines"
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


def reload_target(settings: dict[str, Any]) -> tuple[str, str] | None:
    """(webserver URL, location name), or None when no webserver is configured."""
    dagster = settings.get("dagster") or {}
    url = os.environ.get("MANIFOLD_DAGSTER_URL") or dagster.get("webserverUrl")
    if not url:
        return None
    return url.rstrip("/"), dagster.get("locationName", DEFAULT_LOCATION)


def request_reload(url: str, location: str, timeout: float = 30.0) -> str:
    """Ask the webserver to reload `location`; returns what happened, in words."""
    body = orjson.dumps({"query": _MUTATION, "variables": {"name": location}})
    request = urllib.request.Request(
        f"{url}/graphql", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = orjson.loads(response.read())
    except (urllib.error.URLError, OSError, orjson.JSONDecodeError) as exc:
        return f"could not reach the Dagster webserver at {url}: {exc}"
    result = (answer.get("data") or {}).get("reloadRepositoryLocation") or {}
    if result.get("__typename") == "WorkspaceLocationEntry":
        return f"reloaded code location {location!r} ({result.get('loadStatus')})"
    return f"reload of {location!r} failed: {result.get('message') or answer.get('errors')}"
