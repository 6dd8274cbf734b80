"""The visual diff: `manifold diff --format html` writes one self-contained page; a real
headless Chromium renders it, a screenshot is taken, and the changed values are in the page."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from manifold_tests.chromium import CHROMIUM_FLAGS, chromium, rendered_dom
from manifold_tests.cli.conftest import Invoke


def test_html_diff_report_renders_in_chromium(demo_cli: Invoke, tmp_path: Path) -> None:
    old = [
        {"id": 1, "name": "Widget", "price": 10},
        {"id": 2, "name": "Gadget", "price": 5},
        {"id": 3, "name": "Gone soon", "price": 1},
    ]
    new = [
        {"id": 1, "name": "Widget", "price": 12},
        {"id": 2, "name": "Gadget <b>&</b>", "price": 5},
        {"id": 4, "name": "Brand new", "price": 99},
    ]
    for number, rows in enumerate((old, new)):
        path = tmp_path / f"v{number}.json"
        path.write_text(json.dumps(rows))
        demo_cli("import", "demo/api", str(path))
    report = tmp_path / "diff.html"
    wrote = demo_cli("diff", "demo/api", "1", "2", "--format", "html", "--output", str(report))
    assert wrote.output == f"Wrote the HTML diff report to {report}; open it in a browser.\n"
    html = report.read_text()
    assert "<script" not in html and "http" not in html.split("<body>")[1]  # self-contained
    profile = tmp_path / "profile"
    screenshot = tmp_path / "diff.png"
    subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={screenshot}",
            "--window-size=1200,900",
            report.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert screenshot.stat().st_size > 10_000
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = rendered_dom(report.as_uri(), profile)
    for text in (
        "demo/api: version 1 -&gt; 2",
        ">1</b>added",
        ">1</b>removed",
        ">2</b>modified",
        "<td>price</td><td>1</td>",
        '<td class="old"><code>10</code></td>',
        '<td class="new"><code>12</code></td>',
        "Gadget &lt;b&gt;&amp;&lt;/b&gt;",
        "Brand new",
        "Gone soon",
    ):
        assert text in dom, text
