"""The image lock file: what the rules read at parse time, without an engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contimg.errors import WorkerImageError
from contimg.image_lock import UNLOCKED, lock_path, locked_id, read_lock, write_lock


def test_without_a_lock_the_rules_see_unlocked(tmp_path: Path) -> None:
    assert locked_id(lock_path(tmp_path), "contimg/wsclean:3.7") == UNLOCKED


def test_a_lock_gives_the_id_of_its_own_image_only(tmp_path: Path) -> None:
    path = lock_path(tmp_path)
    write_lock(path, "contimg/wsclean:3.7", "sha256:abc")

    assert locked_id(path, "contimg/wsclean:3.7") == "sha256:abc"
    assert locked_id(path, "other/wsclean:3.8") == UNLOCKED
    assert read_lock(path) == {
        "image": "contimg/wsclean:3.7",
        "id": "sha256:abc",
        "locked": json.loads(path.read_text())["locked"],
    }
    assert not list(tmp_path.glob(".*partial"))


def test_a_damaged_lock_is_named_with_the_way_out(tmp_path: Path) -> None:
    path = lock_path(tmp_path)
    path.write_text("{not json")

    with pytest.raises(WorkerImageError, match=r"worker-image.lock is not valid JSON"):
        locked_id(path, "contimg/wsclean:3.7")
