"""Paths handed to the worker, and moving staged products into place."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from contimg.errors import PathOutsideRootsError, StepOutputError
from contimg.paths import (
    STAGING_OWNER,
    new_staging_directory,
    publish,
    remove_dead_staging,
    require_under_roots,
)


def test_a_path_under_a_root_is_accepted_and_resolved(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "sets").mkdir(parents=True)

    resolved = require_under_roots(
        root / "sets" / ".." / "sets" / "a.ms", [root], "set"
    )

    assert resolved == (root / "sets" / "a.ms").resolve()


def test_a_path_outside_every_root_names_the_path_and_the_roots(tmp_path: Path) -> None:
    roots = [tmp_path / "inputs", tmp_path / "results"]

    with pytest.raises(PathOutsideRootsError) as raised:
        require_under_roots(tmp_path / "elsewhere" / "a.ms", roots, "Measurement Set")

    message = str(raised.value)
    assert "Measurement Set" in message
    assert str(tmp_path / "elsewhere" / "a.ms") in message
    assert str(tmp_path / "inputs") in message and str(tmp_path / "results") in message


def test_a_link_pointing_outside_the_roots_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "inputs"
    root.mkdir()
    outside = tmp_path / "outside.ms"
    outside.mkdir()
    (root / "linked.ms").symlink_to(outside)

    with pytest.raises(PathOutsideRootsError, match=r"outside\.ms"):
        require_under_roots(root / "linked.ms", [root], "Measurement Set")


def test_a_sibling_with_a_common_prefix_is_not_under_the_root(tmp_path: Path) -> None:
    with pytest.raises(PathOutsideRootsError):
        require_under_roots(tmp_path / "data2" / "a.ms", [tmp_path / "data"], "set")


def test_publish_moves_every_file_or_none(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "a.fits").write_text("a")
    final = tmp_path / "results"

    with pytest.raises(StepOutputError, match=r"b\.fits"):
        publish(
            [
                (staging / "a.fits", final / "a.fits"),
                (staging / "b.fits", final / "b.fits"),
            ]
        )
    assert not final.exists()

    (staging / "b.fits").write_text("b")
    publish(
        [(staging / "a.fits", final / "a.fits"), (staging / "b.fits", final / "b.fits")]
    )
    assert (final / "a.fits").read_text() == "a"
    assert sorted(p.name for p in final.iterdir()) == ["a.fits", "b.fits"]


def staging_of_an_ended_job(scratch: Path, label: str) -> Path:
    """A staging directory, with a temporary file, made by a process that then
    ended without removing it (as a job killed by SIGKILL does)."""
    made = subprocess.run(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; "
         "from contimg.paths import new_staging_directory; "
         "d = new_staging_directory(Path(sys.argv[1]), sys.argv[2]); "
         "(d / 'tmp').mkdir(); (d / 'tmp' / 'wsclean-temp.tmp').write_text('x'); "
         "print(d)", str(scratch), label],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return Path(made.stdout.strip())


def test_a_killed_jobs_staging_is_removed_and_the_rest_kept(tmp_path: Path) -> None:
    """A job process that ended without cleaning up (as under SIGKILL) leaves
    its staging directory; a later run's start removes it, and only it."""
    killed = staging_of_an_ended_job(tmp_path, "clean-killed")
    running = new_staging_directory(tmp_path, "clean-running")  # this process
    elsewhere = new_staging_directory(tmp_path, "clean-elsewhere")
    (elsewhere / STAGING_OWNER).write_text("another-host 1 1\n")
    unowned = tmp_path / "staging" / "reproduce-by-hand"
    unowned.mkdir()

    assert remove_dead_staging(tmp_path) == [killed]

    assert not killed.exists()
    assert running.is_dir() and elsewhere.is_dir() and unowned.is_dir()
