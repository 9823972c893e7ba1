"""Shared fixtures: the real container engines, the worker image, and pipeline runs.

Under CI=true a test that needs an engine or the image fails when it is
missing; elsewhere it is skipped with the command that provides it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import docker
import docker.errors
import pytest

from contimg.engine import ENGINES, EngineClient, connect
from contimg.errors import WorkerError

IMAGE = os.environ.get("CONTIMG_IMAGE", "contimg/wsclean:3.7")
IN_CI = os.environ.get("CI", "").lower() == "true"
RUNTIMES = ENGINES
"""The container runtimes that tests marked for both run against: docker, podman."""


def unavailable(reason: str) -> None:
    """Fail under CI, skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: tests that need it may not skip)")
    pytest.skip(reason)


def engine_client(runtime: str) -> EngineClient:
    """A client of the runtime's real engine, as contimg connects to it."""
    try:
        return connect(60, runtime)
    except WorkerError as error:
        unavailable(f"{error}; run scripts/setup")
        raise


def require_image(client: EngineClient) -> str:
    """The worker image, which must be present in the client's engine."""
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        unavailable(
            f"worker image {IMAGE} is missing from the {client.runtime} engine; run "
            "scripts/setup (scripts/build-worker-image builds it for Docker)"
        )
    return IMAGE


@pytest.fixture(scope="session")
def docker_client() -> Iterator[EngineClient]:
    """A client of the real Docker engine."""
    client = engine_client("docker")
    yield client
    client.close()


@pytest.fixture(scope="session")
def podman_client() -> Iterator[EngineClient]:
    """A client of the real Podman API service."""
    client = engine_client("podman")
    yield client
    client.close()


@pytest.fixture(params=RUNTIMES)
def engine(request: pytest.FixtureRequest) -> EngineClient:
    """Each real engine in turn (docker, podman), with the worker image in it."""
    client: EngineClient = request.getfixturevalue(f"{request.param}_client")
    require_image(client)
    return client


@pytest.fixture(scope="session")
def worker_image(docker_client: docker.DockerClient) -> str:
    """The real WSClean worker image, present in the Docker engine."""
    return require_image(docker_client)
