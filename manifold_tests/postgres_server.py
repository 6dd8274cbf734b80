"""A throwaway PostgreSQL cluster for the test suite: its own temporary folder, a free port of
127.0.0.1, a fresh database per test, and nothing left behind once it stops.

The server refuses to run as root, so a root process (CI) runs the binaries as the `postgres`
OS user through runuser; anyone else runs them as themselves.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from manifold_tests.stopping import Stoppable

DEBIAN_ROOT = Path("/usr/lib/postgresql")
SERVER_OS_USER = "postgres"
SUPERUSER = "manifold"
HOST = "127.0.0.1"
# WITH (FORCE) on DROP DATABASE, which ends the other sessions in the same statement.
MINIMUM_MAJOR_VERSION = 13
# pg_ctl waits this long for the server to accept connections; the subprocess a little longer,
# so a server that never comes up fails the session with its log instead of hanging it.
START_TIMEOUT_SECONDS = 30
# Durability is switched off for speed only: the cluster is thrown away after the session, so
# a crash can lose nothing anyone needs, and fsync is most of the cost of every commit. A
# durable server (benchmarks) keeps PostgreSQL's defaults, on disk, as a deployment would.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
# Each new database is ~8 MB of files. On this VM's disk CREATE DATABASE takes ~200 ms even
# with fsync off, in memory ~8 ms; so the cluster lives in /dev/shm when that has room for the
# suite's data (Docker's default 64 MB has not) and in the usual temporary folder otherwise.
MEMORY_FOLDER = Path("/dev/shm")
MEMORY_FOLDER_MINIMUM_FREE_BYTES = 2 * 1024**3
DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

Connection = psycopg.Connection[tuple[Any, ...]]


class PostgresServerError(RuntimeError):
    """The test cluster cannot be found, started or stopped."""


def find_binaries(debian_root: Path = DEBIAN_ROOT) -> Path:
    """The bin folder of the newest Debian PostgreSQL, else the one that holds pg_ctl on PATH
    (other systems put the server binaries there; Debian does not)."""
    versions = [
        (tuple(int(part) for part in folder.parent.name.split(".")), folder)
        for folder in debian_root.glob("*/bin")
        if re.fullmatch(r"\d+(\.\d+)?", folder.parent.name) and (folder / "initdb").is_file()
    ]
    if versions:
        return max(versions)[1]
    on_path = shutil.which("pg_ctl")
    if on_path is not None and (Path(on_path).parent / "initdb").is_file():
        return Path(on_path).parent
    raise PostgresServerError(
        f"The PostgreSQL server binaries (initdb, pg_ctl) are in neither {debian_root}/*/bin "
        "nor on PATH, so the tests that need a PostgreSQL server cannot start one. Install "
        "Debian's postgresql package (apt-get install postgresql); .ci/run does this itself."
    )


def unique_database_name(label: str) -> str:
    """A database name no other test will have, that still says which test it belongs to."""
    readable = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40]
    return f"t_{readable}_{secrets.token_hex(4)}"


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _cluster_parent() -> Path | None:
    """Where the cluster's folder goes: memory when there is room, else tempfile's default."""
    if (
        MEMORY_FOLDER.is_dir()
        and os.access(MEMORY_FOLDER, os.W_OK)
        and shutil.disk_usage(MEMORY_FOLDER).free >= MEMORY_FOLDER_MINIMUM_FREE_BYTES
    ):
        return MEMORY_FOLDER
    return None


def _server_environment() -> dict[str, str]:
    """This process's environment without the developer's PG* settings (PGDATA, PGPORT,
    PGOPTIONS, ...), which would otherwise steer initdb and pg_ctl."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


class PostgresServer(Stoppable):
    """A running cluster whose superuser `manifold` connects without a password over TCP on
    127.0.0.1. Creating one starts it; `stop()`, or leaving a `with` block, removes it.
    `durable` keeps fsync and the disk: what a benchmark must measure."""

    def __init__(self, *, durable: bool = False) -> None:
        self.binaries = find_binaries()
        self.settings = (f"listen_addresses={HOST}", *(() if durable else FAST_SETTINGS))
        parent = None if durable else _cluster_parent()
        self.directory = Path(tempfile.mkdtemp(prefix="manifold-pg-", dir=parent))
        self.port = 0
        self._admin: Connection | None = None
        try:
            self._give_directory_to_server_user()
            self._initdb()
            self._start()
            self._admin = psycopg.connect(self.url("postgres"), autocommit=True)
        except BaseException:
            self.stop()
            raise

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its URL."""
        self._admin_execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_checked(name))))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database even while connections to it are open: they are ended first."""
        self._admin_execute(
            sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(_checked(name)))
        )

    def stop(self) -> None:
        """Stop the server at once (nothing in it needs to survive) and delete its folder."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        try:
            if (self.directory / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "-D", str(self.directory), "-m", "immediate", "-w")
        finally:
            if self.directory.exists():
                shutil.rmtree(self.directory)

    def _admin_execute(self, statement: sql.Composed) -> None:
        if self._admin is None:
            raise PostgresServerError(f"The test cluster in {self.directory} is stopped.")
        self._admin.execute(statement)

    def _give_directory_to_server_user(self) -> None:
        if os.geteuid() != 0:
            return
        try:
            shutil.chown(self.directory, user=SERVER_OS_USER)
        except LookupError:
            raise PostgresServerError(
                f"There is no {SERVER_OS_USER!r} OS user to run the test cluster as: PostgreSQL "
                "refuses to run as root. Install Debian's postgresql package, which creates "
                "that user, or run the tests as a user other than root."
            ) from None

    def _initdb(self) -> None:
        self._run(
            "initdb",
            *("-D", str(self.directory), "-A", "trust", "-U", SUPERUSER),
            *("--no-sync", "-E", "UTF8", "--locale=C"),
        )
        major = int((self.directory / "PG_VERSION").read_text().split(".")[0])
        if major < MINIMUM_MAJOR_VERSION:
            raise PostgresServerError(
                f"PostgreSQL {major} in {self.binaries} is too old for the test cluster: it "
                f"needs {MINIMUM_MAJOR_VERSION} or later for DROP DATABASE ... WITH (FORCE). "
                "Install a newer postgresql package."
            )

    def _start(self) -> None:
        self.port = free_port()
        options = [f"-p {self.port}", f"-k {shlex.quote(str(self.directory))}"]
        options += [f"-c {setting}" for setting in self.settings]
        log = self.directory / "server.log"
        # The server's output goes to the log: with no -l it would inherit this process's
        # pipes and keep the call below waiting for their end until the server stops.
        self._run(
            "pg_ctl",
            *("start", "-D", str(self.directory), "-l", str(log), "-o", " ".join(options)),
            *("-w", "-t", str(START_TIMEOUT_SECONDS)),
            log=log,
        )

    def _run(self, program: str, *arguments: str, log: Path | None = None) -> None:
        command = [str(self.binaries / program), *arguments]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_OS_USER, "--", *command]
        # The server user may not be allowed into the caller's working folder; its own is safe.
        result = subprocess.run(
            command,
            cwd=self.directory,
            env=_server_environment(),
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_SECONDS + 10,
            check=False,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            if log is not None and log.exists():
                output += "\n" + log.read_text(errors="replace").strip()
            raise PostgresServerError(
                f"{program} failed with exit code {result.returncode} for the test cluster in "
                f"{self.directory} (port {self.port}):\n{output}"
            )


def _checked(name: str) -> str:
    """A database name that needs no quoting in a URL, so the URL is the name as given."""
    if not DATABASE_NAME.fullmatch(name):
        raise PostgresServerError(
            f"Database name {name!r} is not allowed in the test cluster: use 1 to 63 lowercase "
            "letters, digits and underscores, not starting with a digit."
        )
    return name
