"""The `contimg` command's pure parts: where its defaults are read from, and
what reproduce says of a path it cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from contimg.cli import configured
from contimg.errors import ContimgError
from contimg.provenance import find_record


def write(path: Path, config: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def test_lock_image_takes_config_files_over_the_default_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    defaults = {"worker": {"image": "site/wsclean:1", "runtime": "podman"},
                "roots": {"results": "out"}}  # fmt: skip
    write(tmp_path / "config" / "config.yaml", defaults)
    mine = write(tmp_path / "mine.yaml", {"roots": {"results": "/data/results"}})

    assert configured([]) == ("site/wsclean:1", "out", "podman")
    assert configured([mine]) == ("site/wsclean:1", "/data/results", "podman")
    with pytest.raises(ContimgError, match=r"config file .*absent.yaml does not exist"):
        configured([tmp_path / "absent.yaml"])


def test_reproduce_says_when_the_product_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ContimgError, match=r"image.fits does not exist; give the"):
        find_record(tmp_path / "image.fits")


def test_reproduce_says_which_products_have_records(tmp_path: Path) -> None:
    picture = tmp_path / "quicklook" / "set-image.png"
    picture.parent.mkdir()
    picture.write_bytes(b"png")

    with pytest.raises(ContimgError, match="records are kept for WSClean's products"):
        find_record(picture)


def test_without_a_config_here_the_runtime_is_docker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert configured([]) == (None, "results", "docker")
