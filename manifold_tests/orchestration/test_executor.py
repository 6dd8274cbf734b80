"""The same definitions serve a laptop and a cluster: MANIFOLD_EXECUTOR picks the executor of
every job, and a setting that names nothing, or Celery without a broker, fails the load with
the variable and what to set, rather than running a cluster's steps somewhere unexpected."""

from __future__ import annotations

import pytest

from manifold_pipelines.errors import DeploymentError
from manifold_pipelines.orchestration.definitions import build_definitions
from manifold_pipelines.orchestration.snapshot import CatalogSnapshot, PinnedSource

BROKER = "redis://127.0.0.1:6399/0"


@pytest.fixture
def catalog() -> CatalogSnapshot:
    """One source, as pinned: the executor does not depend on where the data lives."""
    source = PinnedSource(
        project_id="shop",
        id="api",
        name="Api",
        type="javascript",
        config={"script": "return [];"},
        sync_interval=None,
    )
    return CatalogSnapshot(home="unused", sources=[source], relationships=[])


def _executors(snapshot: CatalogSnapshot) -> set[str]:
    defs = build_definitions(snapshot)
    jobs = [defs.resolve_implicit_global_asset_job_def(), defs.resolve_job_def("retention_job")]
    return {job.executor_def.name for job in jobs}


def test_jobs_run_on_dagsters_multiprocess_executor_by_default(catalog: CatalogSnapshot) -> None:
    assert _executors(catalog) == {"multi_or_in_process_executor"}


def test_celery_runs_every_job_on_the_celery_executor(
    catalog: CatalogSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANIFOLD_EXECUTOR", "celery")
    monkeypatch.setenv("MANIFOLD_CELERY_BROKER", BROKER)
    assert _executors(catalog) == {"celery"}


def test_an_unknown_executor_is_refused_naming_the_variable_and_the_choices(
    catalog: CatalogSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANIFOLD_EXECUTOR", "kubernetes")
    with pytest.raises(DeploymentError) as refused:
        build_definitions(catalog)
    assert str(refused.value) == (
        "MANIFOLD_EXECUTOR='kubernetes' names no executor Manifold knows: use one of "
        "multiprocess, celery, or leave it unset for multiprocess."
    )


def test_celery_without_a_broker_is_refused_naming_the_broker_variable(
    catalog: CatalogSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANIFOLD_EXECUTOR", "celery")
    monkeypatch.delenv("MANIFOLD_CELERY_BROKER", raising=False)
    with pytest.raises(DeploymentError, match="needs the broker's URL in MANIFOLD_CELERY_BROKER"):
        build_definitions(catalog)


def test_a_worker_takes_its_broker_and_backend_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MANIFOLD_CELERY_BROKER", BROKER)
    monkeypatch.delenv("MANIFOLD_CELERY_BACKEND", raising=False)
    # Imported here: the module builds the worker's app as `celery -A` imports it, from the
    # environment, which must name a broker first.
    from manifold_pipelines.orchestration.celery_worker import build_worker_app

    app = build_worker_app()
    assert (app.conf.broker_url, app.conf.result_backend) == (BROKER, BROKER)
    assert "execute_plan" in app.tasks
    monkeypatch.setenv("MANIFOLD_CELERY_BACKEND", "redis://127.0.0.1:6399/1")
    assert build_worker_app().conf.result_backend == "redis://127.0.0.1:6399/1"
