"""The CLI after a catalogue change: what the Dagster webserver said goes to stderr."""

from __future__ import annotations

import pytest

from manifold_tests.cli.conftest import Invoke
from manifold_tests.http_serving import serving
from manifold_tests.orchestration.test_reload_answers import answering


def test_the_cli_prints_what_the_webserver_said_after_a_change(
    demo_cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(answering(b"[]")) as url:
        monkeypatch.setenv("MANIFOLD_DAGSTER_URL", url)
        result = demo_cli("source", "update", "demo/api", "--name", "Renamed")
    assert result.stderr == (
        f"Dagster: the server at {url} did not answer as a Dagster webserver; the catalogue is"
        " saved. Check that MANIFOLD_DAGSTER_URL or the dagster setting's webserverUrl names"
        " the Dagster webserver.\n"
    )
    assert demo_cli("source", "list", "demo").stderr == ""  # reading changes nothing
