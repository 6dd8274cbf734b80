"""A real Dagster webserver on 127.0.0.1 for tests and benchmarks: started on a workspace file,
waited for until every code location has loaded, asked through GraphQL as the UI asks, and
stopped with the code servers it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from dagster_graphql import DagsterGraphQLClient

from manifold_tests.postgres_server import free_port
from manifold_tests.stopping import Stoppable

WEBSERVER = str(Path(sys.executable).with_name("dagster-webserver"))

LOCATIONS_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
RELOAD_MUTATION = """
mutation ($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) {
  __typename ... on WorkspaceLocationEntry { loadStatus } ... on PythonError { message } } }
"""
# What the asset catalogue page (/assets) of dagster-webserver 1.13 asks for each code location
# (its LocationWorkspaceAssetsQuery with the RepositoryAsset fragment, as in the UI's bundle):
# the page lists nothing until every location has answered it.
ASSET_CATALOGUE_QUERY = """
query LocationWorkspaceAssetsQuery($name: String!) {
  workspaceLocationEntryOrError(name: $name) {
    ... on WorkspaceLocationEntry { id name loadStatus updatedTimestamp versionKey
      locationOrLoadError {
        ... on RepositoryLocation { id name repositories { id name
          assetNodes { id changedReasons groupName opNames isMaterializable isObservable
            isExecutable isPartitioned isAutoCreatedStub hasAssetChecks computeKind
            hasMaterializePermission hasWipePermission hasReportRunlessAssetEventPermission
            assetKey { path }
            internalFreshnessPolicy {
              ... on TimeWindowFreshnessPolicy { failWindowSeconds warnWindowSeconds }
              ... on CronFreshnessPolicy { deadlineCron lowerBoundDeltaSeconds timezone } }
            partitionDefinition { dimensionTypes { type dynamicPartitionsDefinitionName } }
            automationCondition { __typename }
            description(characterLimit: 240)
            owners { ... on UserAssetOwner { email } ... on TeamAssetOwner { team } }
            tags { key value } storageAddress { storageKind tableName } jobNames kinds
            graphName dependencyKeys { path } }
          assetGroups { id groupName } } }
        ... on PythonError { message } } }
    ... on PythonError { message } } }
"""


def graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        answer: dict[str, Any] = json.loads(response.read())
    assert "errors" not in answer, answer["errors"]
    return answer["data"]  # type: ignore[no-any-return]


class DagsterWebserver(Stoppable):
    """`dagster-webserver -w workspace` in its own process group; entering waits until every
    location has loaded (a location that failed to load fails here, with its error)."""

    def __init__(
        self, workspace: Path, env: Mapping[str, str], *, load_timeout: float = 900
    ) -> None:
        self.workspace = workspace
        self.env = dict(env)
        self.load_timeout = load_timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.load_seconds = 0.0

    def __enter__(self) -> Self:
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [WEBSERVER, "-w", str(self.workspace), "-h", "127.0.0.1", "-p", str(self.port)],
            env=self.env,
            cwd=self.workspace.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            self._wait_until_loaded(started)
        except BaseException:
            self.stop()
            raise
        self.load_seconds = time.perf_counter() - started
        return self

    def _wait_until_loaded(self, started: float) -> None:
        assert self.process is not None
        while True:
            try:
                entries = self.locations()
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    failed = [
                        e
                        for e in entries
                        if e["locationOrLoadError"] is None
                        or e["locationOrLoadError"]["__typename"] == "PythonError"
                    ]
                    assert not failed, f"code locations failed to load: {failed}"
                    return
            except OSError:
                pass
            assert time.perf_counter() - started < self.load_timeout, "locations did not load"
            assert self.process.poll() is None, "the webserver exited"
            time.sleep(0.5)

    def stop(self) -> None:
        """SIGTERM to the whole group (the webserver and its code servers), SIGKILL if it
        lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def locations(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = graphql(self.url, LOCATIONS_QUERY)["workspaceOrError"][
            "locationEntries"
        ]
        return entries

    def reload(self, location: str) -> float:
        """Seconds the webserver took to reload `location` through GraphQL, as the UI's
        Reload button and Manifold's reload after a catalogue change ask it."""
        started = time.perf_counter()
        result = graphql(self.url, RELOAD_MUTATION, {"name": location})["reloadRepositoryLocation"]
        assert result.get("loadStatus") == "LOADED", result
        return time.perf_counter() - started

    def asset_catalogue(self, location: str) -> list[str]:
        """The assets `location` defines ("project/source"), by the asset catalogue's query;
        stubs standing for another location's assets are left out."""
        entry = graphql(self.url, ASSET_CATALOGUE_QUERY, {"name": location})
        found = entry["workspaceLocationEntryOrError"]["locationOrLoadError"]
        return [
            "/".join(node["assetKey"]["path"])
            for repository in found["repositories"]
            for node in repository["assetNodes"]
            if not node["isAutoCreatedStub"]
        ]

    def materialize(
        self, location: str, key: list[str], job: str = "__ASSET_JOB"
    ) -> tuple[str, str]:
        """Launch a run of `job` in `location` for one asset, as the UI's Materialize does;
        (run id, SUCCESS or FAILURE) once it has finished."""
        client = DagsterGraphQLClient("127.0.0.1", port_number=self.port)
        run_id = client.submit_job_execution(
            job,
            repository_location_name=location,
            repository_name="__repository__",
            asset_selection=[key],
        )
        deadline = time.monotonic() + 120
        while (status := client.get_run_status(run_id).value) not in ("SUCCESS", "FAILURE"):
            assert time.monotonic() < deadline, f"run {run_id} is stuck in {status}"
            time.sleep(0.5)
        return run_id, status
