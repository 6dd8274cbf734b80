"""The diff is what users come for: it must agree with a plain, obviously-correct oracle on
generated data, between any two versions, for single and composite keys."""

from __future__ import annotations

import random
from typing import Any

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import ConfigError, DiffKeyError
from manifold_pipelines.versions.diff import DiffSettings, field_changes
from manifold_pipelines.versions.models import FieldChange, ModifiedRecord, built
from manifold_tests.conftest import make_source

FIELDS = ["name", "city", "amount", "active", "note"]


def oracle(old: list[dict], new: list[dict], key: tuple[str, ...]) -> dict[str, Any]:
    """Naive keyed diff written without the store's code: compare whole records by key."""

    def keyed(records: list[dict]) -> dict[tuple, dict]:
        return {tuple(r[k] for k in key): r for r in records}

    before, after = keyed(old), keyed(new)
    modified = {}
    for k in before.keys() & after.keys():
        a, b = before[k], after[k]
        changes = {}
        for field in a.keys() | b.keys():
            if field not in a:
                changes[field] = {"type": "added", "newValue": b[field]}
            elif field not in b:
                changes[field] = {"type": "removed", "oldValue": a[field]}
            elif type(a[field]) is not type(b[field]) or a[field] != b[field]:
                changes[field] = {"type": "modified", "oldValue": a[field], "newValue": b[field]}
        if changes:
            modified[k] = changes
    return {
        "added": {k for k in after.keys() - before.keys()},
        "removed": {k for k in before.keys() - after.keys()},
        "modified": modified,
    }


def evolve(
    rng: random.Random, records: list[dict], key: tuple[str, ...], next_id: list[int]
) -> list[dict]:
    """Drop, modify (values, added and removed fields) and add records at random."""
    result = []
    for record in records:
        roll = rng.random()
        if roll < 0.1:
            continue
        record = dict(record)
        if roll < 0.35:
            field = rng.choice(FIELDS)
            if field in record and rng.random() < 0.3:
                del record[field]
            else:
                record[field] = rng.choice([rng.randint(0, 5), "x", None, True, 2.5, [1]])
        result.append(record)
    for _ in range(rng.randint(0, 5)):
        next_id[0] += 1
        new = {k: (next_id[0] if k == "id" else rng.choice(["eu", "us"])) for k in key}
        new.update({f: rng.randint(0, 3) for f in rng.sample(FIELDS, 3)})
        result.append(new)
    rng.shuffle(result)
    return result


def summarize(diff: Any, key: tuple[str, ...]) -> dict[str, Any]:
    def k(record: dict) -> tuple:
        return tuple(record[f] for f in key)

    return {
        "added": {k(r) for r in diff.details.added},
        "removed": {k(r) for r in diff.details.removed},
        "modified": {
            k(m.new): {name: c.to_dict() for name, c in m.changes.items()}
            for m in diff.details.modified
        },
    }


@pytest.mark.parametrize("key", [("id",), ("region", "id")])
@pytest.mark.parametrize("seed", range(6))
def test_diff_matches_the_oracle_between_any_two_versions(
    manager: SeparatedDatabaseManager, key: tuple[str, ...], seed: int
) -> None:
    rng = random.Random(seed)
    make_source(manager, diffKey=list(key))
    next_id = [0]
    versions: list[list[dict]] = [evolve(rng, [], key, next_id)]
    for _ in range(5):
        versions.append(evolve(rng, versions[-1], key, next_id))
    for records in versions:
        manager.import_data("demo", "api", records)
    for a, b in [(1, 2), (2, 3), (1, 6), (6, 1), (3, 5), (4, 4)]:
        diff = manager.get_data_diff("demo", "api", a, b)
        expected = oracle(versions[a - 1], versions[b - 1], key)
        assert summarize(diff, key) == expected, (a, b)
        assert (diff.added, diff.removed, diff.modified) == (
            len(expected["added"]),
            len(expected["removed"]),
            len(expected["modified"]),
        )
        assert diff.total_changes == diff.added + diff.removed + diff.modified


def test_import_result_diff_has_the_published_json_shape(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    manager.import_data(*source, [{"id": 1, "a": "old", "gone": 1}, {"id": 2}, {"id": 3}])
    result = manager.import_data(*source, [{"id": 1, "a": "new", "extra": 2}, {"id": 2}, {"id": 4}])
    assert result.diff is not None
    assert result.diff.to_dict() == {
        "added": 1,
        "removed": 1,
        "modified": 1,
        "totalChanges": 3,
        "details": {
            "added": [{"id": 4}],
            "removed": [{"id": 3}],
            "modified": [
                {
                    "old": {"id": 1, "a": "old", "gone": 1},
                    "new": {"id": 1, "a": "new", "extra": 2},
                    "changes": {
                        "a": {"type": "modified", "oldValue": "old", "newValue": "new"},
                        "extra": {"type": "added", "newValue": 2},
                        "gone": {"type": "removed", "oldValue": 1},
                    },
                }
            ],
        },
    }
    assert result.diff.to_dict() == manager.get_data_diff(*source, 1, 2).to_dict()
    assert manager.list_versions(*source)[1].diff == {
        "added": 1,
        "removed": 1,
        "modified": 1,
        "totalChanges": 3,
    }


def test_type_changes_count_as_modifications(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    manager.import_data(*source, [{"id": 1, "v": 1}, {"id": 2, "v": 1}, {"id": 3, "v": 0}])
    result = manager.import_data(
        *source, [{"id": 1, "v": 1.0}, {"id": 2, "v": True}, {"id": 3, "v": 0}]
    )
    assert result.diff is not None and result.diff.modified == 2
    changes = {m.new["id"]: m.changes["v"].to_dict() for m in result.diff.details.modified}
    assert changes == {
        1: {"type": "modified", "oldValue": 1, "newValue": 1.0},
        2: {"type": "modified", "oldValue": 1, "newValue": True},
    }


def test_ignored_fields_and_tolerances_hide_noise_but_versions_keep_it(
    manager: SeparatedDatabaseManager,
) -> None:
    make_source(manager, diffIgnoreFields=["fetchedAt"], diffTolerance={"price": 0.01})
    manager.import_data(
        "demo",
        "api",
        [
            {"id": 1, "price": 10.0, "fetchedAt": "t1"},
            {"id": 2, "price": 5.0, "fetchedAt": "t1"},
        ],
    )
    second = [
        {"id": 1, "price": 10.004, "fetchedAt": "t2"},
        {"id": 2, "price": 5.5, "fetchedAt": "t2"},
    ]
    result = manager.import_data("demo", "api", second)
    assert result.diff is not None
    assert result.diff.modified == 1
    assert list(result.diff.details.modified[0].changes) == ["price"]
    assert manager.get_latest_data("demo", "api").data == second


def test_keyless_diff_counts_identical_records(manager: SeparatedDatabaseManager) -> None:
    make_source(manager, keylessDiff=True)
    manager.import_data("demo", "api", [{"v": 1}, {"v": 1}, {"v": 2}])
    result = manager.import_data("demo", "api", [{"v": 1}, {"v": 3}, {"v": 2}])
    assert result.diff is not None
    assert (result.diff.added, result.diff.removed, result.diff.modified) == (1, 1, 0)
    assert result.diff.details.added == [{"v": 3}] and result.diff.details.removed == [{"v": 1}]
    uniqueness = next(m for m in result.quality if m.metric == "key_uniqueness")
    assert uniqueness.value == 1.0
    first = next(
        m for m in manager.get_quality_metrics("demo", "api", 1) if m.metric == "key_uniqueness"
    )
    assert first.value == pytest.approx(2 / 3) and first.status == "fail"


def test_changing_the_diff_key_rekeys_the_previous_version(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    manager.import_data(*source, [{"id": 1, "code": "a", "v": 1}, {"id": 2, "code": "b", "v": 1}])
    manager.update_data_source(*source, config={"script": "return []", "diffKey": "code"})
    result = manager.import_data(
        *source, [{"id": 10, "code": "a", "v": 1}, {"id": 20, "code": "b", "v": 2}]
    )
    assert result.diff is not None
    assert (result.diff.added, result.diff.removed, result.diff.modified) == (0, 0, 2)
    assert manager.get_data_diff(*source, 1, 2).modified == 2
    third = manager.import_data(*source, [{"id": 10, "code": "a", "v": 1}])
    assert third.diff is not None and (third.diff.removed, third.diff.modified) == (1, 0)
    assert manager.get_data_version(*source, 1).data[0]["id"] == 1


def test_diff_falls_back_to_the_stored_key_and_else_names_the_rows(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    manager.import_data(*source, [{"id": 1}, {"id": 2}])
    manager.import_data(*source, [{"id": 1, "code": "x"}, {"id": 2, "code": "y"}])
    manager.update_data_source(*source, config={"script": "return []", "diffKey": "code"})
    assert manager.get_data_diff(*source, 1, 2).modified == 2  # keyed by 'id', as stored
    manager.import_data(*source, [{"code": "x"}, {"code": "z"}])
    manager.update_data_source(*source, config={"script": "return []", "diffKey": "id"})
    with pytest.raises(
        DiffKeyError, match=r"v3: 2 records have no usable 'id'.*cannot be computed"
    ):
        manager.get_data_diff(*source, 1, 3)


def test_nested_type_changes_and_negative_zero_are_modifications(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    first = [{"id": 1, "a": {"x": 1}}, {"id": 2, "b": [1]}, {"id": 3, "z": 0.0}]
    second = [{"id": 1, "a": {"x": 1.0}}, {"id": 2, "b": [True]}, {"id": 3, "z": -0.0}]
    manager.import_data(*source, [*first, {"id": 4, "o": {"p": 1, "q": 2}}])
    result = manager.import_data(*source, [*second, {"id": 4, "o": {"q": 2, "p": 1}}])
    assert result.diff is not None and result.diff.modified == 3
    assert manager.get_data_diff(*source, 1, 2).modified == 3


def test_diff_limit_caps_details_but_not_counts(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    manager.import_data(*source, [])
    manager.import_data(*source, [{"id": i} for i in range(50)])
    diff = manager.get_data_diff(*source, 1, 2, limit=5)
    assert diff.added == 50 and len(diff.details.added) == 5


def test_diff_disabled_still_versions(manager: SeparatedDatabaseManager, source: tuple) -> None:
    result = manager.import_data(*source, [{"no_id": 1}, {"no_id": 1}], enable_diff=False)
    assert result.diff is None and result.version == 1
    assert manager.list_versions(*source)[0].diff is None
    assert manager.get_latest_data(*source).data == [{"no_id": 1}, {"no_id": 1}]


@pytest.mark.parametrize("limit", [-1, -50, 2.5, True, "3"])
def test_a_diff_limit_that_is_not_a_count_is_refused(
    manager: SeparatedDatabaseManager, source: tuple, limit: object
) -> None:
    manager.import_data(*source, [{"id": 1}])
    manager.import_data(*source, [{"id": 1}, {"id": 2}])
    with pytest.raises(ConfigError, match=rf"'demo/api': limit={limit!r} is not a number of"):
        manager.get_data_diff(*source, 1, 2, limit=limit)  # type: ignore[arg-type]
    assert manager.get_data_diff(*source, 1, 2, limit=0).added == 1
    assert manager.get_data_diff(*source, 1, 2).details.added == [{"id": 2}]


def test_tolerances_compare_numbers_exactly_as_written(manager: SeparatedDatabaseManager) -> None:
    make_source(manager, diffTolerance={"n": 0.5, "x": 0.1})
    first = [
        {"id": 1, "n": 2**53 + 1},
        {"id": 2, "n": 10**18},
        {"id": 3, "x": 1.0},
        {"id": 4, "n": 1},
    ]
    manager.import_data("demo", "api", first)
    second = [
        {"id": 1, "n": 2.0**53},  # float arithmetic would round the old value to this
        {"id": 2, "n": 1e18},  # the same number: within any tolerance
        {"id": 3, "x": 1.1},  # 0.1 apart as written, though not in binary
        {"id": 4, "n": 1.5},
    ]
    result = manager.import_data("demo", "api", second)
    assert result.diff is not None
    changed = [m.new["id"] for m in result.diff.details.modified]
    assert changed == [1]
    assert manager.get_data_diff("demo", "api", 1, 2).to_dict() == result.diff.to_dict()
    assert manager.get_latest_data("demo", "api").data == second


def test_keyless_diff_ignores_field_order_but_versions_keep_it(
    manager: SeparatedDatabaseManager,
) -> None:
    make_source(manager, keylessDiff=True)
    first = [
        {"a": 1, "b": {"x": 1, "y": 2}},
        {"c": [{"p": 1, "q": 2}]},
        {"a": 1, "b": {"x": 1, "y": 2}},
    ]
    manager.import_data("demo", "api", first)
    second = [
        {"b": {"y": 2, "x": 1}, "a": 1},
        {"c": [{"q": 2, "p": 1}]},
        {"a": 1, "b": {"x": 1, "y": 2}},
    ]
    result = manager.import_data("demo", "api", second)
    assert result.diff is not None and result.diff.total_changes == 0
    assert manager.get_data_diff("demo", "api", 1, 2).total_changes == 0
    assert manager.get_data_diff("demo", "api", 2, 1).total_changes == 0
    assert manager.get_data_version("demo", "api", 1).data == first
    back = manager.get_latest_data("demo", "api").data
    assert back == second and [list(r) for r in back] == [["b", "a"], ["c"], ["a", "b"]]
    assert list(back[0]["b"]) == ["y", "x"]
    uniqueness = next(m for m in result.quality if m.metric == "key_uniqueness")
    assert uniqueness.value == pytest.approx(2 / 3)  # two records with the same content
    third = manager.import_data("demo", "api", [{"b": {"x": 1, "y": 2}, "a": 1}, {"c": []}])
    assert third.diff is not None
    assert (third.diff.added, third.diff.removed) == (1, 2)
    assert third.diff.details.added == [{"c": []}]


def test_field_changes_are_the_models_model_construct_would_build() -> None:
    """The diff builds its change models without model_construct's per-call work; they must
    be the same models: equal, dumped alike, with the same fields set, copyable."""
    old = {"id": 1, "a": 1, "b": 2.5, "gone": "x", "skip": 1, "nested": {"k": 1}}
    new = {"id": 1.0, "a": True, "b": 2.5, "fresh": None, "skip": 2, "nested": {"k": 1.0}}
    settings = DiffSettings(ignore_fields=frozenset({"skip", "id"}))
    changes = field_changes(old, new, settings)
    assert changes == {
        "a": FieldChange.model_construct(type="modified", old_value=1, new_value=True),
        "fresh": FieldChange.model_construct(type="added", old_value=None, new_value=None),
        "nested": FieldChange.model_construct(
            type="modified", old_value={"k": 1}, new_value={"k": 1.0}
        ),
        "gone": FieldChange.model_construct(type="removed", old_value="x", new_value=None),
    }
    change = changes["a"]
    reference = FieldChange.model_construct(type="modified", old_value=1, new_value=True)
    assert change.model_dump(by_alias=True) == reference.model_dump(by_alias=True)
    assert change.model_fields_set == reference.model_fields_set
    assert change.model_copy(update={"new_value": 2}).new_value == 2
    record = built(ModifiedRecord, {"old": old, "new": new, "changes": changes})
    assert record == ModifiedRecord.model_construct(old=old, new=new, changes=changes)
    assert field_changes(old, dict(old), settings) == {}
