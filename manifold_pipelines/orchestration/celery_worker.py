"""The Celery app a Manifold worker runs: dagster-celery's step task, on the broker and result
backend the environment names (see orchestration/executor.py), so a worker needs no file of
its own, no DAGSTER_HOME and no MANIFOLD_HOME:

    celery -A manifold_pipelines.orchestration.celery_worker worker --concurrency 2

Each task carries the run's instance (its storage settings, which read MANIFOLD_DATABASE_URL
here) and the code location to import; the step then runs in the worker's pool process.
"""

from __future__ import annotations

import os

from celery import Celery
from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from manifold_pipelines.orchestration.executor import celery_variables


def build_worker_app() -> Celery:
    """dagster-celery's app and task, built as its executor builds them when it submits."""
    broker, backend = (os.environ[name] for name in celery_variables())
    worker_app = make_app(CeleryExecutor.for_cli(broker=broker, backend=backend).app_args())
    create_task(worker_app)
    return worker_app


app = build_worker_app()
