"""The throwaway PostgreSQL server the suite runs against: every test that asks for a database
gets an empty one of its own, the server is reachable only from this machine, a database is
dropped even while a test still holds connections to it, and stopping leaves nothing behind.
Every PostgreSQL test in the suite leans on these promises."""

from __future__ import annotations

import os
import pwd
import socket
from pathlib import Path

import psutil
import psycopg
import pytest

from manifold_tests.postgres_server import (
    SERVER_OS_USER,
    PostgresServer,
    PostgresServerError,
    find_binaries,
)


def _public_tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return [name for (name,) in rows]


def _database_exists(server: PostgresServer, name: str) -> bool:
    with psycopg.connect(server.url("postgres")) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


@pytest.mark.parametrize("turn", ["first", "second"])
def test_each_test_gets_an_empty_database_that_no_other_test_shares(
    postgres_url: str, turn: str
) -> None:
    # Both turns create the same table: had they been given one database, whichever ran
    # second would find the other's table, in whatever order they run.
    assert _public_tables(postgres_url) == []
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE marker (turn text)")
        conn.execute("INSERT INTO marker VALUES (%s)", (turn,))
    assert _public_tables(postgres_url) == ["marker"]


def test_a_table_in_one_database_is_absent_from_another_of_the_same_server(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    other_url = postgres_server.create_database("other_database")
    try:
        with psycopg.connect(postgres_url) as conn:
            conn.execute("CREATE TABLE only_here (id int)")
        assert _public_tables(other_url) == []
    finally:
        postgres_server.drop_database("other_database")


def test_the_url_connects_as_manifold_over_tcp_to_the_named_utf8_database(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute(
            "SELECT current_user, current_database(), host(inet_server_addr()),"
            " inet_server_port(), current_setting('server_encoding'), %s::text",
            ("Zürich ✓ 東京",),
        ).fetchone()
    assert row is not None
    user, database, address, port, encoding, text = row
    assert postgres_url == f"postgresql://manifold@127.0.0.1:{postgres_server.port}/{database}"
    assert (user, address, port) == ("manifold", "127.0.0.1", postgres_server.port)
    assert encoding == "UTF8"
    assert text == "Zürich ✓ 東京"


def test_the_server_listens_on_127_0_0_1_and_nowhere_else(postgres_server: PostgresServer) -> None:
    listening = {
        conn.laddr.ip
        for conn in psutil.net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == postgres_server.port
    }
    assert listening == {"127.0.0.1"}
    # 127.0.0.2 is this machine too: only a wildcard listener would answer there.
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.2", postgres_server.port))


def test_dropping_a_database_ends_the_connections_still_open_to_it(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database("held_open")
    idle = psycopg.connect(url)
    in_transaction = psycopg.connect(url)
    in_transaction.execute("CREATE TABLE locked (id int)")
    in_transaction.execute("LOCK TABLE locked IN ACCESS EXCLUSIVE MODE")

    postgres_server.drop_database("held_open")

    assert not _database_exists(postgres_server, "held_open")
    for conn in (idle, in_transaction):
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
        conn.close()


def test_the_cluster_folder_belongs_to_the_user_the_server_runs_as(
    postgres_server: PostgresServer,
) -> None:
    owner = pwd.getpwnam(SERVER_OS_USER).pw_uid if os.geteuid() == 0 else os.geteuid()
    assert postgres_server.directory.stat().st_uid == owner
    with psycopg.connect(postgres_server.url("postgres")) as conn:
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN"
                " ('data_directory', 'fsync', 'unix_socket_directories')"
            ).fetchall()
        )
    assert settings == {
        "data_directory": str(postgres_server.directory),
        "fsync": "off",
        "unix_socket_directories": str(postgres_server.directory),
    }


def test_stopping_the_server_closes_its_port_and_removes_its_folder() -> None:
    server = PostgresServer()
    url = server.create_database("before_stop")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)

    server.stop()

    assert not server.directory.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5)
    with pytest.raises(PostgresServerError, match="is stopped"):
        server.create_database("after_stop")


def test_a_database_name_that_would_need_quoting_in_the_url_is_refused(
    postgres_server: PostgresServer,
) -> None:
    for name in ("Upper", "with space", "slash/es", "1starts_with_digit", "x" * 64, ""):
        with pytest.raises(PostgresServerError, match="lowercase letters, digits"):
            postgres_server.create_database(name)


def test_the_newest_debian_version_is_chosen(tmp_path: Path) -> None:
    for version in ("9.6", "13", "15", "100"):
        (tmp_path / version / "bin").mkdir(parents=True)
        if version != "100":
            (tmp_path / version / "bin" / "initdb").touch()
    assert find_binaries(tmp_path) == tmp_path / "15" / "bin"


def test_missing_binaries_are_an_error_that_says_which_package_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PostgresServerError, match="Install Debian's postgresql package"):
        find_binaries(tmp_path / "no-postgresql-here")
