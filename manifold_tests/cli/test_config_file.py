"""A config file is read into memory and stored in core.db, so what it may expand to is
bounded: a YAML "billion laughs" of a few hundred bytes once grew to 2.8 GB and killed the
CLI. Each refusal is a clear error, and no source is created or changed by a refused config."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.core.source_config import MAX_CONFIG_BYTES
from manifold_pipelines.errors import ConfigError
from manifold_tests.cli.conftest import Invoke, run_manifold
from manifold_tests.conftest import make_source

LAUGHS = "\n".join(
    [
        "script: 'return [];'",
        "variables:",
        '  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        *(
            f"  {name}: &{name} [{', '.join([f'*{prev}'] * 9)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


WIDE_LAUGHS = "\n".join(
    [
        "script: 'return [];'",
        "variables:",
        f"  s: &s {'x' * 100_000}",
        f"  a: &a [{', '.join(['*s'] * 10)}]",
        f"  b: &b [{', '.join(['*a'] * 10)}]",
        f"  c: &c [{', '.join(['*b'] * 10)}]",
        f"  d: &d [{', '.join(['*c'] * 10)}]",
        f"  e: [{', '.join(['*d'] * 7)}]",
    ]
)
"""The red team's second bomb: few aliases and few values (47 and 77,784), but one 100 KB
value under them, so it expands to about 8 GB."""


def _limit_memory() -> None:
    """Without the fix the bomb would take gigabytes: fail fast instead of swapping."""
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def _manifold(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_manifold(home, *args, preexec_fn=_limit_memory, timeout=60)


def test_a_yaml_bomb_is_refused_before_it_expands(
    manager: SeparatedDatabaseManager, home: Path, tmp_path: Path
) -> None:
    make_source(manager)
    manager.close()
    bomb = tmp_path / "laughs.yaml"
    bomb.write_text(LAUGHS)
    started = time.monotonic()
    done = _manifold(
        home, "source", "create", "demo/x", "--name", "X", "--type", "javascript",
        "--config", str(bomb),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "becomes more than 1 MiB once its aliases (*name) are expanded" in done.stderr
    assert time.monotonic() - started < 20
    update = _manifold(home, "source", "update", "demo/api", "--config", str(bomb))
    assert "once its aliases (*name) are expanded" in update.stderr
    with SeparatedDatabaseManager(home) as again:
        assert [s.id for s in again.list_data_sources()] == ["api"]
        assert again.get_data_source("demo", "api").config.variables == {}


def test_a_yaml_bomb_of_few_aliases_over_a_large_value_is_refused_by_its_size(
    manager: SeparatedDatabaseManager, home: Path, tmp_path: Path
) -> None:
    make_source(manager)
    manager.close()
    bomb = tmp_path / "wide.yaml"
    bomb.write_text(WIDE_LAUGHS)
    started = time.monotonic()
    done = _manifold(home, "source", "update", "demo/api", "--config", str(bomb))
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Error: ") and "Traceback" not in done.stderr
    assert "becomes more than 1 MiB once its aliases (*name) are expanded" in done.stderr
    assert time.monotonic() - started < 20
    with SeparatedDatabaseManager(home) as again:
        assert again.get_data_source("demo", "api").config.variables == {}


def test_the_api_refuses_a_config_that_shares_one_value_gigabytes_over_without_writing_it(
    home: Path,
) -> None:
    """A config built in Python can share one object as YAML aliases do; its size is counted
    up to the limit, never by serialising it whole. Run in a child limited to 1 GiB."""
    script = textwrap.dedent(
        """
        import sys
        from manifold_pipelines import SeparatedDatabaseManager
        from manifold_pipelines.errors import ConfigError
        shared = "x" * 100_000
        for width in (10, 10, 10, 10, 7):
            shared = [shared] * width
        with SeparatedDatabaseManager(sys.argv[1]) as manager:
            manager.create_project(name="Demo", id="demo")
            try:
                manager.create_data_source(
                    "demo", name="b", type="javascript", id="b",
                    config={"script": "return [];", "variables": {"e": shared}},
                )
            except ConfigError as exc:
                print(exc)
            print([s.id for s in manager.list_data_sources()])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(home)],
        capture_output=True,
        text=True,
        preexec_fn=_limit_memory,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Data source 'demo/b': the config is over 1,048,576 bytes as JSON, more than the 1 MiB"
        " a config may have. Keep data out of configs: read it through a file source or fetch.",
        "[]",
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "script: x\nvariables:\n  a: &a 1\n  b: [" + ", ".join(["*a"] * 101) + "]\n",
            "uses more than 100 aliases",
        ),
        ("script: x\nvariables: &v\n  self: *v\n", "refers to itself through an alias"),
        ("script: x\nvariables: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ("script: [unclosed\n", "not valid YAML"),
        ("- a list\n", "must be an object of keys, got list"),
        ("script: x\nvariables: {1: one}\n", "cannot be written as JSON"),
    ],
    ids=["aliases", "recursive", "deep", "invalid", "list", "int-key"],
)
def test_yaml_that_could_not_be_a_config_is_a_clear_error(
    demo_cli: Invoke, tmp_path: Path, text: str, words: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    refused = demo_cli("source", "update", "demo/api", "--config", str(path), code=1)
    assert refused.output.startswith("Error: ") and words in refused.output
    shown = json.loads(demo_cli("source", "show", "demo/api").output)
    assert shown["config"] == {"script": "return [];"}


def test_a_few_aliases_still_load(demo_cli: Invoke, tmp_path: Path, home: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("script: 'return [];'\nvariables:\n  a: &a {x: 1}\n  b: *a\n  c: *a\n")
    demo_cli("source", "update", "demo/api", "--config", str(path))
    with SeparatedDatabaseManager(home) as manager:
        variables = manager.get_data_source("demo", "api").config.variables
    assert variables == {"a": {"x": 1}, "b": {"x": 1}, "c": {"x": 1}}


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_config_file_over_1_mib_is_refused(demo_cli: Invoke, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"big{suffix}"
    path.write_text(json.dumps({"script": "return [];", "variables": {"v": "x" * (1 << 20)}}))
    refused = demo_cli("source", "update", "demo/api", "--config", str(path), code=1)
    assert "more than the 1 MiB a config may have" in refused.output


def test_the_api_refuses_a_config_over_1_mib(manager: SeparatedDatabaseManager) -> None:
    make_source(manager)
    big = {"script": "return [];", "variables": {"v": "x" * MAX_CONFIG_BYTES}}
    with pytest.raises(
        ConfigError, match=r"Data source 'demo/api': the config is over 1,048,576 bytes"
    ):
        manager.update_data_source("demo", "api", config=big)
    with pytest.raises(ConfigError, match="more than the 1 MiB a config may have"):
        manager.create_data_source("demo", name="b", type="javascript", id="b", config=big)
    assert manager.get_data_source("demo", "api").config.variables == {}
    assert [s.id for s in manager.list_data_sources()] == ["api"]


SEXAGESIMAL = "1:" + ":".join(["59"] * 300_000)
"""The red team's 900 KB base-60 integer: YAML 1.1 reads it as one number, and PyYAML's
conversion is quadratic (16.7 s of CPU before any other check could run)."""


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (SEXAGESIMAL, "is a YAML 1.1 base-60 number"),
        ("1:30.5", "is a YAML 1.1 base-60 number"),
        ("9" * 5000, "an integer of 5,000 digits"),
        ("18446744073709551616", "does not fit in 64 bits"),
        ("-0x8000000000000001", "does not fit in 64 bits"),
        (".inf", "JSON has no infinity or NaN"),
        ("-.Inf", "JSON has no infinity or NaN"),
        (".nan", "JSON has no infinity or NaN"),
        ("1.0e+400", "JSON has no infinity or NaN"),
    ],
    ids=["sexagesimal", "sexagesimal-float", "long", "over-64-bits", "hex", "inf", "-inf",
         "nan", "overflow"],
)  # fmt: skip
def test_a_yaml_number_json_cannot_hold_is_refused_quickly_and_named(
    manager: SeparatedDatabaseManager, home: Path, tmp_path: Path, value: str, words: str
) -> None:
    """Refused before it is converted (a conversion could take seconds or raise a raw
    ValueError) and never stored as something else (orjson writes inf as null)."""
    make_source(manager, variables={"x": 1})
    manager.close()
    path = tmp_path / "number.yaml"
    path.write_text(f"script: 'return [];'\nvariables:\n  x: {value}\n")
    started = time.monotonic()
    done = _manifold(home, "source", "update", "demo/api", "--config", str(path))
    assert time.monotonic() - started < 10
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"Error: {path}: line 3, column 6: ") and words in done.stderr
    with SeparatedDatabaseManager(home) as again:
        assert again.get_data_source("demo", "api").config.variables == {"x": 1}


def test_yaml_numbers_json_holds_still_load(demo_cli: Invoke, tmp_path: Path, home: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "script: 'return [];'\nvariables: {a: 18446744073709551615, b: -0x10, c: 1_000,"
        " d: 2.5e+3, e: '1:30', f: -9223372036854775808}\n"
    )
    demo_cli("source", "update", "demo/api", "--config", str(path))
    with SeparatedDatabaseManager(home) as manager:
        variables = manager.get_data_source("demo", "api").config.variables
    assert variables == {
        "a": 2**64 - 1, "b": -16, "c": 1000, "d": 2500.0, "e": "1:30", "f": -(2**63),
    }  # fmt: skip
