"""Fixtures shared by the integration tests."""

from __future__ import annotations

import docker
import pytest

from tests.integration.pipeline import ExampleRun, run_example


@pytest.fixture(scope="session")
def example_run(
    docker_client: docker.DockerClient,
    worker_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> ExampleRun:
    """The example pipeline, run once per session for every test that reads it."""
    return run_example(docker_client, tmp_path_factory.mktemp("example"))
