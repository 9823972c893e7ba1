"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from tests.integration.pipeline import Background, ExampleRun, run_example


@pytest.fixture(scope="session")
def example_run(
    docker_client: docker.DockerClient,
    worker_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> ExampleRun:
    """The example pipeline, run once per session for every test that reads it."""
    return run_example(docker_client, tmp_path_factory.mktemp("example"))


@pytest.fixture
def background() -> Iterator[Background]:
    """Start snakemake in the background; anything left running is killed after."""
    started = Background()
    yield started
    started.kill_all()
