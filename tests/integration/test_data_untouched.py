"""DATA is never changed: not by failing steps, not by an interrupted predict."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import docker
import pytest
from casacore.tables import table

from tests.integration.pipeline import (
    Background,
    base_config,
    merged,
    snakemake,
    tail,
    write_workdir,
)
from tests.integration.test_endings import VLA_SET, vla_workdir
from tests.integration.test_faults import (
    run_workers,
    wait_until,
    wsclean_processes,
)

pytestmark = pytest.mark.integration


def data_digest(measurement_set: Path) -> str:
    """A checksum of DATA (and FLAG), read with casacore."""
    with table(str(measurement_set), ack=False) as main:
        digest = hashlib.sha256(main.getcol("DATA").tobytes())
        digest.update(main.getcol("FLAG").tobytes())
    return digest.hexdigest()


def test_a_failing_clean_leaves_data_bit_identical(
    docker_client: docker.DockerClient, worker_image: str, tmp_path: Path
) -> None:
    workdir = vla_workdir(tmp_path / "run", clean={"weight": ["nonsense"]})
    before = data_digest(workdir / VLA_SET)

    result = snakemake(workdir, "--cores", "2")

    assert result.returncode != 0
    assert data_digest(workdir / VLA_SET) == before


def test_an_interrupted_predict_leaves_data_identical_and_the_set_readable(
    docker_client: docker.DockerClient,
    worker_image: str,
    tmp_path: Path,
    background: Background,
) -> None:
    workdir = tmp_path / "run"
    example = "resources/example/dsa110_cosmos.ms"
    config = merged(base_config(), {"wsclean": {"threads": 1}})
    write_workdir(workdir, config, {"cosmos": example})
    made = snakemake(workdir, "--cores", "2", example)
    assert made.returncode == 0, tail(made)
    before = data_digest(workdir / example)

    process = background.start(workdir, "--cores", "2")

    def predicting() -> bool:
        return any(
            "-predict" in line
            for worker in run_workers(docker_client, workdir)
            for line in wsclean_processes(worker)
        )

    wait_until(predicting, 120)
    os.killpg(process.pid, signal.SIGINT)
    background.finish(process, timeout=120)

    assert not (workdir / "results" / "cosmos" / "predict.json").exists()
    assert data_digest(workdir / example) == before
    with table(str(workdir / example), ack=False) as main:
        assert main.nrows() > 0
