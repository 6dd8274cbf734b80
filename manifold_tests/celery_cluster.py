"""A Manifold deployment on one machine, run the way the README's "Scale out" runs it: Dagster's
instance in PostgreSQL (the shipped dagster_home/deployments/dagster.yaml), Celery workers each
in an empty folder of its own with only the database URL and the broker in its environment,
and runs launched by the dagster CLI with MANIFOLD_EXECUTOR=celery."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psutil

from manifold_tests.stopping import Stoppable

REPOSITORY = Path(__file__).resolve().parents[1]
DEPLOYMENT_INSTANCE = REPOSITORY / "dagster_home" / "deployments" / "dagster.yaml"
BIN = Path(sys.executable).parent
WORKER_APP = "manifold_pipelines.orchestration.celery_worker"
CODE_LOCATION = "manifold_pipelines.definitions"
DATABASE_URL_VARIABLE = "MANIFOLD_DATABASE_URL"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 20


@dataclass
class Worker:
    name: str
    folder: Path
    log: Path
    process: subprocess.Popen[bytes]

    def pool_pids(self) -> set[int]:
        """The processes that run this worker's steps (Celery's prefork pool)."""
        return {child.pid for child in psutil.Process(self.process.pid).children()}


class CeleryCluster(Stoppable):
    """Workers started here stop when the cluster does; its DAGSTER_HOME holds only the
    shipped dagster.yaml, whose storage is the PostgreSQL database at `database_url`."""

    def __init__(self, root: Path, database_url: str, broker_url: str) -> None:
        self.root = root
        self.database_url = database_url
        self.broker_url = broker_url
        self.dagster_home = root / "dagster_home"
        self.dagster_home.mkdir(parents=True)
        shutil.copy(DEPLOYMENT_INSTANCE, self.dagster_home / "dagster.yaml")
        self.workers: list[Worker] = []

    def worker_environment(self) -> dict[str, str]:
        """All a worker is given: no MANIFOLD_HOME, no DAGSTER_HOME, nothing else."""
        return {
            "PATH": "/usr/bin:/bin",
            DATABASE_URL_VARIABLE: self.database_url,
            "MANIFOLD_CELERY_BROKER": self.broker_url,
        }

    def run_environment(self) -> dict[str, str]:
        """What the process that launches a run sees: the instance and the Celery executor."""
        return {
            **os.environ,
            **self.worker_environment(),
            "DAGSTER_HOME": str(self.dagster_home),
            "MANIFOLD_EXECUTOR": "celery",
        }

    def start_workers(self, count: int, concurrency: int = 1) -> list[Worker]:
        """Start `count` workers at once and wait until each is ready for tasks."""
        started = [
            self._start_worker(f"w{len(self.workers) + i}", concurrency) for i in range(count)
        ]
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        for worker in started:
            while "ready." not in worker.log.read_text(errors="replace"):
                if worker.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"Celery worker {worker.name} did not start:\n{worker.log.read_text()}"
                    )
                time.sleep(0.1)
        self.workers += started
        return started

    def stop(self) -> None:
        """Kill each worker's session, pool included, at once: a worker holds nothing that
        must survive it (that is the point), and Celery's own shutdown takes seconds even
        when idle."""
        for worker in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.process.pid, signal.SIGKILL)
        for worker in self.workers:
            worker.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        self.workers = []

    def launch(self, *arguments: str) -> subprocess.Popen[str]:
        """Start a `dagster` command (`job execute ...`, `asset materialize ...`) against the
        code location, in the cluster's root folder."""
        return subprocess.Popen(
            [str(BIN / "dagster"), *arguments, "-m", CODE_LOCATION],
            cwd=self.root,
            env=self.run_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *arguments: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        process = self.launch(*arguments)
        stdout, stderr = process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    @contextlib.contextmanager
    def instance(self) -> Iterator[dg.DagsterInstance]:
        """The Dagster instance the runs wrote to. The shipped dagster.yaml names its database
        by MANIFOLD_DATABASE_URL, as in every process of the deployment, so that is set while
        the instance is loaded (it reads the variable then, and only then)."""
        previous = os.environ.get(DATABASE_URL_VARIABLE)
        os.environ[DATABASE_URL_VARIABLE] = self.database_url
        try:
            loaded = dg.DagsterInstance.from_config(str(self.dagster_home))
        finally:
            if previous is None:
                del os.environ[DATABASE_URL_VARIABLE]
            else:
                os.environ[DATABASE_URL_VARIABLE] = previous
        with loaded as instance:
            yield instance

    def _start_worker(self, name: str, concurrency: int) -> Worker:
        folder = self.root / name
        folder.mkdir()
        log = self.root / f"{name}.log"
        command = [str(BIN / "celery"), "-A", WORKER_APP, "worker", "-n", f"{name}@%h"]
        command += ["--concurrency", str(concurrency), "--loglevel", "INFO"]
        # Workers on one machine need not find each other at start: that search costs a second.
        command += ["--without-mingle", "--without-gossip"]
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                cwd=folder,
                env=self.worker_environment(),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return Worker(name, folder, log, process)
