"""A throwaway Redis server for the scale-out tests: Debian's redis-server on a free port of
127.0.0.1, its own temporary folder, nothing saved to disk, and nothing left once it stops.
It is the Celery broker and result backend, as in a deployment."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from manifold_tests.postgres_server import HOST, free_port
from manifold_tests.stopping import Stoppable

START_TIMEOUT_SECONDS = 15


class RedisServerError(RuntimeError):
    """The test Redis server cannot be found or started."""


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RedisServerError(
            "redis-server is not on PATH, so the scale-out tests cannot start a Celery broker. "
            "Install Debian's redis-server package (apt-get install redis-server); .ci/run "
            "does this itself."
        )
    return found


class RedisServer(Stoppable):
    """A running redis-server; creating one starts it, `stop()` or leaving `with` ends it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="manifold-redis-"))
        log = self.directory / "server.log"
        # No snapshots and no append-only file: a broker for one test keeps nothing on disk.
        command = [find_redis_server(), "--bind", HOST, "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        command += ["--logfile", str(log)]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        try:
            self._wait_until_ready(log)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)

    def _wait_until_ready(self, log: Path) -> None:
        """Until the server answers PING; fails with its log if it exits or never answers."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        output = log.read_text(errors="replace") if log.exists() else "(no log)"
        raise RedisServerError(
            f"redis-server on {HOST}:{self.port} did not answer PING within "
            f"{START_TIMEOUT_SECONDS} s (exit code {self.process.poll()}):\n{output}"
        )
