"""Which executor runs a run's steps, chosen by the deployment's environment, so that the same
definitions serve a laptop (`multiprocess`, the default) and a cluster (`celery`: each step a
task on a broker, run by whichever worker takes it first).

    MANIFOLD_EXECUTOR        multiprocess (default) or celery
    MANIFOLD_CELERY_BROKER   the broker's URL, e.g. redis://127.0.0.1:6379/0 (celery only)
    MANIFOLD_CELERY_BACKEND  where workers put step results; default: the broker's URL
"""

from __future__ import annotations

import os

import dagster as dg

from manifold_pipelines.errors import DeploymentError

EXECUTOR_VARIABLE = "MANIFOLD_EXECUTOR"
BROKER_VARIABLE = "MANIFOLD_CELERY_BROKER"
BACKEND_VARIABLE = "MANIFOLD_CELERY_BACKEND"
EXECUTORS = ("multiprocess", "celery")


def executor_name() -> str:
    """The executor the environment asks for; an unknown name is refused, not ignored, so a
    typo cannot quietly run a cluster's steps on the machine that launched the run."""
    name = os.environ.get(EXECUTOR_VARIABLE, "").strip() or "multiprocess"
    if name in EXECUTORS:
        return name
    raise DeploymentError(
        f"{EXECUTOR_VARIABLE}={name!r} names no executor Manifold knows: use one of "
        f"{', '.join(EXECUTORS)}, or leave it unset for multiprocess."
    )


def celery_variables() -> tuple[str, str]:
    """The variables that hold the broker's URL and the result backend's, which the executor
    and every worker must agree on. The backend defaults to the broker: Redis serves as both."""
    if not os.environ.get(BROKER_VARIABLE):
        raise DeploymentError(
            f"{EXECUTOR_VARIABLE}=celery needs the broker's URL in {BROKER_VARIABLE} (for "
            f"example redis://127.0.0.1:6379/0), and it is not set. Set it to the broker the "
            f"workers listen to, or set {EXECUTOR_VARIABLE}=multiprocess."
        )
    backend = BACKEND_VARIABLE if os.environ.get(BACKEND_VARIABLE) else BROKER_VARIABLE
    return BROKER_VARIABLE, backend


def build_executor() -> dg.ExecutorDefinition:
    """Dagster's default executor (each step a subprocess of the run, or in-process when a
    run's config says so), or dagster-celery's, configured from the environment."""
    if executor_name() == "multiprocess":
        return dg.multi_or_in_process_executor
    broker, backend = celery_variables()  # a missing broker fails the load, not each run
    # Imported here: celery and kombu have no business in a laptop's process.
    from dagster_celery import celery_executor

    # Environment references, not values: a broker URL may hold a password, and each run
    # resolves them where it orchestrates.
    return celery_executor.configured(
        {"broker": {"env": broker}, "backend": {"env": backend}}, name="celery"
    )
