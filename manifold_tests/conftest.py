"""Shared fixtures: a real MANIFOLD_HOME in tmp_path with one project and one source, a real
PostgreSQL server with a fresh database per test, and a real Redis server (a Celery broker)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.versions import record_batches, scan
from manifold_tests.postgres_server import PostgresServer, unique_database_name
from manifold_tests.redis_server import RedisServer

SCRIPT = "return [];"


ENGINES = ("sqlite", "postgresql")
_LEFT_OUT_BY = {"sqlite": "postgresql_only", "postgresql": "sqlite_only"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that stores data (it uses `home`, `manager` or `engine`) runs on both
    engines; one marked `sqlite_only` reads SQLite files directly and runs on SQLite alone;
    one marked `postgresql_only` checks what PostgreSQL alone does, or with its own means what
    a sqlite_only test checks, and runs on PostgreSQL alone."""
    if "engine" in metafunc.fixturenames:
        marked = metafunc.definition.get_closest_marker
        engines = [name for name in ENGINES if marked(_LEFT_OUT_BY[name]) is None]
        metafunc.parametrize("engine", engines, indirect=True)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may read the developer's own MANIFOLD_* settings or write into the repo."""
    for name in (
        "MANIFOLD_HOME",
        "MANIFOLD_ALLOWED_ROOTS",
        "MANIFOLD_USER",
        "MANIFOLD_DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The storage engine under test. On PostgreSQL the test gets a fresh database, named
    by MANIFOLD_DATABASE_URL, which every manager and every CLI or Dagster subprocess of the
    test reads, exactly as a user's deployment would."""
    name: str = request.param
    if name == "postgresql":
        monkeypatch.setenv("MANIFOLD_DATABASE_URL", request.getfixturevalue("postgres_url"))
    return name


@pytest.fixture
def home(tmp_path: Path, engine: str) -> Path:
    """The home folder, made up front: on PostgreSQL Manifold writes nothing there, but tests
    put the files their file sources read in it."""
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def manager(home: Path) -> Iterator[SeparatedDatabaseManager]:
    with SeparatedDatabaseManager(home) as m:
        yield m


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway cluster per pytest session (per worker under xdist), started when the
    first test asks for it, so a run that needs none starts none."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a new, empty database of this test's own, dropped at teardown even if the
    test left connections to it open."""
    name = unique_database_name(request.node.name)
    yield postgres_server.create_database(name)
    postgres_server.drop_database(name)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The URL of a throwaway Redis server of this test's own: it starts in milliseconds, and
    a broker shared between tests would hand one test's tasks to another's workers."""
    with RedisServer() as server:
        yield server.url


def make_source(
    manager: SeparatedDatabaseManager,
    project_id: str = "demo",
    source_id: str = "api",
    **config: Any,
) -> None:
    """A project (if missing) and a javascript source whose extra config keys are `config`."""
    if project_id not in {p.id for p in manager.list_projects()}:
        manager.create_project(name=project_id.title(), id=project_id)
    manager.create_data_source(
        project_id,
        name=source_id,
        type="javascript",
        id=source_id,
        config={"script": SCRIPT, **config},
    )


def batches_of(monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    """Records read, and rows written, `rows` at a time."""
    monkeypatch.setattr(record_batches, "BATCH_ROWS", rows)
    monkeypatch.setattr(scan, "BATCH_ROWS", rows)


@pytest.fixture
def source(manager: SeparatedDatabaseManager) -> tuple[str, str]:
    make_source(manager)
    return ("demo", "api")
