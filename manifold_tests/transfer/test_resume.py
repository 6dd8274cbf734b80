"""A transfer is stopped (a kill, a database that stores something else than it is given) or
the original changes after it: running it again must finish the job and bring the copy up to
date, copying nothing twice and never leaving a source half copied."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import StorageError
from manifold_pipelines.transfer import transfer
from manifold_tests.cli.conftest import run_manifold
from manifold_tests.conftest import make_source
from manifold_tests.transfer.conftest import assert_same_manifold, records

BIG = 60_000
"""Records per version: each source takes a few tenths of a second to copy, time enough for
the kill to land while one is being copied."""


@pytest.mark.slow
def test_a_transfer_killed_half_way_finishes_when_run_again(
    tmp_path: Path, postgres_url: str
) -> None:
    home = tmp_path / "home"
    with SeparatedDatabaseManager(home) as manager:
        for source_id in ("a", "b", "c"):
            make_source(manager, "big", source_id)
            for version in (1, 2):
                manager.import_data("big", source_id, records(BIG, version))
    command = [sys.executable, "-m", "manifold_pipelines.cli", "--home", str(home)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("MANIFOLD_")}
    process = subprocess.Popen(
        [*command, "transfer", postgres_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines: list[str] = []
    try:
        while not lines or not lines[-1].startswith("big/a: copied"):
            line = process.stderr.readline()
            assert line, f"the transfer ended before it copied big/a: {lines}"
            lines.append(line)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL, "killed while copying big/b or big/c"

    rerun = run_manifold(home, "transfer", postgres_url, "--json")
    assert rerun.returncode == 0, rerun.stderr
    outcomes = {copy["source"]: copy["outcome"] for copy in json.loads(rerun.stdout)["sources"]}
    assert outcomes == {"big/a": "already there", "big/b": "copied", "big/c": "copied"}
    with (
        SeparatedDatabaseManager(home) as original,
        SeparatedDatabaseManager(tmp_path / "unused", database_url=postgres_url) as moved,
    ):
        assert_same_manifold(original, moved)


def test_a_rerun_brings_the_copy_up_to_date_and_drops_what_was_deleted(
    original: SeparatedDatabaseManager, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    transfer(original, str(copy))
    original.delete_data_source("shop", "items")
    original.delete_data_source("demo", "orders")
    make_source(original, "demo", "orders")
    original.import_data("demo", "orders", records(5, 1))
    make_source(original, "late", "feed")
    original.import_data("late", "feed", records(3, 1))
    original.set_role("alice", "demo", None)
    original.update_data_source("demo", "api", name="API v2")

    again = transfer(original, str(copy))
    assert again.sources_with("copied") == ["demo/orders", "late/feed"]
    assert again.sources_with("already there") == ["demo/api"]
    sources = again.catalogue["data_sources"]
    assert (sources.added, sources.changed, sources.removed) == (1, 2, 1)
    assert again.catalogue["project_roles"].removed == 1
    assert not (copy / "data-sources" / "shop" / "items.db").exists()
    with SeparatedDatabaseManager(copy) as copied:
        assert_same_manifold(original, copied)


TAMPER = """
CREATE FUNCTION public.tamper() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.first_version = 2 THEN NEW.record := '{"tampered": true}'; END IF;
    RETURN NEW;
END $$;
CREATE FUNCTION public.tamper_new_tables() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE created record;
BEGIN
    FOR created IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
        IF created.object_identity LIKE '%.record_history' THEN
            EXECUTE format('CREATE TRIGGER tamper BEFORE INSERT ON %s FOR EACH ROW'
                ' EXECUTE FUNCTION public.tamper()', created.object_identity);
        END IF;
    END LOOP;
END $$;
CREATE EVENT TRIGGER tamper_new_tables ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
    EXECUTE FUNCTION public.tamper_new_tables();
"""


def test_a_version_that_reads_back_otherwise_is_not_kept_and_is_copied_again(
    original: SeparatedDatabaseManager, postgres_url: str, tmp_path: Path
) -> None:
    """The destination database rewrites the records of version 2 as they arrive (a trigger
    its owner added): the copy must notice before it commits, and say which version."""
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(TAMPER)
    with pytest.raises(StorageError, match=r"'demo/api' was not transferred: .* version 2 differ"):
        transfer(original, postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("DROP EVENT TRIGGER tamper_new_tables")
    again = transfer(original, postgres_url)
    assert again.sources_with("copied") == ["demo/api", "demo/orders", "shop/items"]
    with SeparatedDatabaseManager(tmp_path / "unused", database_url=postgres_url) as moved:
        assert_same_manifold(original, moved)
