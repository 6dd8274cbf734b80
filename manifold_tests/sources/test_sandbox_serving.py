"""While the host takes in a batch of a script's records, it still answers the script's
fetches and logs its console lines, so a paging script fetches and reads its next page while
the host imports this one; nothing the script logs or sends changes order for it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from manifold_tests.sources.direct_runs import start_run

SCRIPT = """
emit(Array.from({ length: 2000 }, (_, i) => ({ id: i })));
console.log("between");
const r = await fetch("http://api.test/page");
console.log(`fetched ${r.status}`);
emit((await r.json()).items);
"""
MOCK = {"http://api.test/page": {"status": 200, "body": {"items": [{"id": 2000}]}}}


@pytest.mark.slow
def test_a_fetch_sent_while_the_host_takes_in_a_batch_is_answered_before_the_batch_ends(
    tmp_path: Path,
) -> None:
    run = start_run(tmp_path, "javascript", {"script": SCRIPT, "mockResponses": MOCK}, {})
    try:
        records = run.records()
        taken = [next(records) for _ in range(1000)]
        time.sleep(3)  # the script's console line and fetch are on the pipe by now
        taken.append(next(records))
        log_mid_batch = run.log.text() or ""
        taken.extend(records)
    finally:
        run.close()
    assert [record["id"] for record in taken] == list(range(2001))
    assert "fetch http://api.test/page -> 200" in log_mid_batch
    assert (run.log.text() or "").splitlines() == [
        "[info] between",
        "[info] fetch http://api.test/page -> 200 (23 bytes)",
        "[info] fetched 200",
    ]
