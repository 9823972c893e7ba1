"""Names that break shell strings go through all three WSClean rules intact."""

from __future__ import annotations

import shutil
from pathlib import Path

import docker
import pytest

from tests.integration.pipeline import (
    base_config,
    merged,
    snakemake,
    tail,
    write_workdir,
)
from tests.integration.test_endings import VLA_CHANGES, VLA_SET, vla_workdir

pytestmark = pytest.mark.integration

HOSTILE_FOLDER = 'it\'s a "quoted" $HOME ünïcödé folder'
HOSTILE_SET = "-vla set; rm -rf ~.ms"
HOSTILE_NAME = "vla ünï 'odd'"


def test_spaces_quotes_unicode_and_a_leading_dash_survive_every_step(
    docker_client: docker.DockerClient, worker_image: str, tmp_path: Path
) -> None:
    workdir = vla_workdir(tmp_path / "run")
    hostile = workdir / "data" / HOSTILE_FOLDER / HOSTILE_SET
    hostile.parent.mkdir()
    shutil.move(workdir / VLA_SET, hostile)
    config = merged(base_config(), VLA_CHANGES)
    write_workdir(
        workdir, config, {HOSTILE_NAME: f"data/{HOSTILE_FOLDER}/{HOSTILE_SET}"}
    )

    result = snakemake(workdir, "--cores", "2")

    assert result.returncode == 0, tail(result)
    results = workdir / "results" / HOSTILE_NAME
    assert (results / "model" / f"{HOSTILE_NAME}-model.fits").is_file()
    assert (results / "predict.json").is_file()
    for product in ("image", "residual", "model", "psf"):
        assert (results / "clean" / f"{HOSTILE_NAME}-{product}.fits").is_file()
    log = (workdir / "logs" / HOSTILE_NAME / "clean.log").read_text()
    assert str(hostile) in log
