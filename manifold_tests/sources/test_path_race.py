"""A file source's path is checked against the allowed roots and read in one step: the file
that is read is the file that was checked. Someone who can write inside a root and swaps a
folder on the path for a symlink to an outside folder, even while runs are in flight, never
gets an outside file published, and a run that loses the race fails with a clear error."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import ManifoldError
from manifold_pipelines.sources.base import SourceRunError

RUNS = 150
INSIDE = "id,origin\n1,inside\n"
OUTSIDE = "id,origin\n1,OUTSIDE\n"


def _csv_source(manager: SeparatedDatabaseManager, path: Path) -> None:
    manager.create_project(name="Files", id="files")
    manager.create_data_source("files", name="f", type="csv", id="f", config={"path": str(path)})


def _published(manager: SeparatedDatabaseManager) -> list[dict]:
    return [
        record
        for version in manager.list_versions("files", "f")
        for record in manager.get_data_version("files", "f", version.version).data
    ]


class _Flipper(threading.Thread):
    """Swaps `folder` between the real folder and a symlink to `outside` as fast as it can."""

    def __init__(self, folder: Path, outside: Path) -> None:
        super().__init__(daemon=True)
        self.folder, self.outside = folder, outside
        self.parked = folder.with_name("parked")
        self.stop = threading.Event()
        self.flips = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.folder.rename(self.parked)
            self.folder.symlink_to(self.outside)
            self.folder.unlink()
            self.parked.rename(self.folder)
            self.flips += 1


@pytest.fixture
def inside_and_outside(
    manager: SeparatedDatabaseManager, home: Path, tmp_path: Path
) -> tuple[Path, Path]:
    """A CSV source reading `home/flip/data.csv`, run once, and an outside folder holding
    a file of the same name: (the source's folder, the outside folder)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.csv").write_text(OUTSIDE)
    folder = home / "flip"
    folder.mkdir()
    (folder / "data.csv").write_text(INSIDE)
    _csv_source(manager, folder / "data.csv")
    manager.run_data_source("files", "f")
    return folder, outside


@pytest.mark.slow  # flips a folder for seconds of runs
def test_a_folder_flipped_to_an_outside_symlink_during_runs_never_publishes_outside_data(
    manager: SeparatedDatabaseManager, inside_and_outside: tuple[Path, Path]
) -> None:
    folder, outside = inside_and_outside
    flipper = _Flipper(folder, outside)
    flipper.start()
    failures: list[ManifoldError] = []
    try:
        for _ in range(RUNS):
            try:
                manager.run_data_source("files", "f")
            except ManifoldError as error:
                failures.append(error)
    finally:
        flipper.stop.set()
        flipper.join()
    assert flipper.flips > RUNS
    assert all(record["origin"] == "inside" for record in _published(manager))
    assert all(isinstance(error, SourceRunError) for error in failures), failures
    assert all(
        "outside every allowed root" in str(error) or "does not exist" in str(error)
        for error in failures
    ), failures
    assert manager.get_latest_data("files", "f").data == [{"id": 1, "origin": "inside"}]


def test_a_folder_swapped_for_an_outside_symlink_after_creation_is_refused(
    manager: SeparatedDatabaseManager, inside_and_outside: tuple[Path, Path]
) -> None:
    folder, outside = inside_and_outside
    (folder / "data.csv").unlink()
    folder.rmdir()
    folder.symlink_to(outside)
    with pytest.raises(SourceRunError, match=r"outside every allowed root"):
        manager.run_data_source("files", "f")
    assert manager.get_latest_data("files", "f").data == [{"id": 1, "origin": "inside"}]


def test_a_fifo_in_place_of_the_file_is_refused_without_waiting(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    path = home / "data.csv"
    path.write_text(INSIDE)
    _csv_source(manager, path)
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(SourceRunError, match=r"is not a regular file"):
        manager.run_data_source("files", "f")
