"""The Dagster UI has no Manifold roles: anyone who can open it sees what an asset emits, and
Dagster's event log keeps it for good. A source's variables (often API keys), its env values
and a URL's password must therefore never reach it, neither on the asset's page nor through
the run log, the import log excerpt or a failure, while Manifold's own import log (read with
the viewer role) keeps the whole text."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.orchestration.definitions import build_definitions
from manifold_pipelines.orchestration.snapshot import read_catalog
from manifold_tests.orchestration.conftest import add_source

API_KEY = "sk-live-0123456789abcdef"
TOKEN = "tok-ABCDEFGHIJKLMNOP"
ENV_TOKEN = "env-secret-42424242"
VARIABLES = {"url": "https://api.example.com/items", "apiKey": API_KEY, "auth": {"token": TOKEN}}
FETCH = "const reply = await fetch(url + '?key=' + apiKey);"
MOCKS = {f"https://api.example.com/items?key={API_KEY}": {"body": [{"id": 1}]}}
SECRETS = (API_KEY, TOKEN, ENV_TOKEN)


def config_page(manager: SeparatedDatabaseManager, source_id: str) -> str:
    defs = build_definitions(read_catalog(manager))
    node = defs.resolve_asset_graph().get(dg.AssetKey(["shop", source_id]))
    shown = node.metadata["manifold/config"]
    assert isinstance(shown, dg.MarkdownMetadataValue)
    return shown.value


def materialize(manager: SeparatedDatabaseManager) -> tuple[dg.ExecuteInProcessResult, list[Any]]:
    """A real run of shop/api, and every event Dagster stored for it."""
    defs = build_definitions(read_catalog(manager))
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(assets, instance=instance, selection=["shop/api"], raise_on_error=False)
    return result, list(instance.all_logs(result.run_id))


def test_asset_page_names_variables_but_hides_their_values(
    manager: SeparatedDatabaseManager,
) -> None:
    add_source(
        manager,
        "api",
        script=f"{FETCH} return reply.json();",
        variables=VARIABLES,
        mockResponses=MOCKS,
    )
    text = config_page(manager, "api")
    assert "**Variables**: `url`, `apiKey`, `auth`" in text
    assert "`manifold source show shop/api` shows them to the project's viewers" in text
    assert "| `[hidden: variables.url]?key=[hidden: variables.apiKey]` | 200 |" in text
    assert not any(secret in text for secret in SECRETS)
    assert 'api.example.com/items"' not in text  # the url variable's value is hidden too
    assert manager.get_data_source("shop", "api").config.variables == VARIABLES


def test_a_url_password_is_hidden_on_the_asset_page(manager: SeparatedDatabaseManager) -> None:
    manager.create_project(name="Shop", id="shop")
    manager.create_data_source(
        "shop",
        name="Remote",
        type="csv",
        id="remote",
        config={
            "url": f"https://reader:{API_KEY}@files.example/items.csv",
            "allowedHosts": ["files.example"],
        },
    )
    text = config_page(manager, "remote")
    assert "https://reader:[hidden: url password]@files.example/items.csv" in text
    assert API_KEY not in text


def test_run_log_and_import_log_excerpt_hide_variable_and_env_values(
    manager: SeparatedDatabaseManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", ENV_TOKEN)
    script = (
        f"{FETCH} console.log('token ' + auth.token + ' env ' + env.API_TOKEN);"
        " return reply.json();"
    )
    add_source(
        manager,
        "api",
        script=script,
        variables=VARIABLES,
        env=["API_TOKEN"],
        mockResponses=MOCKS,
    )
    result, events = materialize(manager)
    assert result.success
    messages = "\n".join(record.user_message for record in events)
    (materialization,) = result.get_asset_materialization_events()
    excerpt = materialization.materialization.metadata["import_log"].value
    for shown in (messages, excerpt):
        assert "[info] token [hidden: variables.auth.token] env [hidden: env.API_TOKEN]" in shown
        assert "fetch [hidden: variables.url]?key=[hidden: variables.apiKey] -> 200" in shown
        assert not any(secret in shown for secret in SECRETS)
    (log,) = manager.get_import_logs("shop", "api", limit=1)
    assert f"?key={API_KEY}" in (log.log or "") and ENV_TOKEN in (log.log or "")


def test_a_failure_hides_variable_values_in_its_error(manager: SeparatedDatabaseManager) -> None:
    add_source(
        manager, "api", script="throw new Error('rejected key ' + apiKey)", variables=VARIABLES
    )
    result, events = materialize(manager)
    assert not result.success
    (failure,) = [
        record.dagster_event
        for record in events
        if record.dagster_event and record.dagster_event.event_type_value == "STEP_FAILURE"
    ]
    shown = failure.step_failure_data.user_failure_data
    assert "rejected key [hidden: variables.apiKey]" in shown.description
    assert "rejected key [hidden: variables.apiKey]" in shown.metadata["error"].value
    stored = "\n".join(str(record.dagster_event or record.user_message) for record in events)
    assert API_KEY not in stored
    assert manager.get_data_source("shop", "api").status == "failed"


def test_a_secret_is_hidden_also_as_escaped_in_json_or_a_url(
    manager: SeparatedDatabaseManager,
) -> None:
    signature = 'p+s/s"w0rd\\x'
    script = (
        "console.log(JSON.stringify({ s: signature }) + ' ' + encodeURIComponent(signature));"
        " return [{ id: 1 }];"
    )
    add_source(manager, "api", script=script, variables={"signature": signature})
    result, events = materialize(manager)
    assert result.success
    messages = "\n".join(record.user_message for record in events)
    hidden = "[hidden: variables.signature]"
    assert f'[info] {{"s":"{hidden}"}} {hidden}' in messages
    assert "w0rd" not in messages
