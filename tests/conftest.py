"""Shared fixtures: the real Docker engine, the worker image, and pipeline runs.

Under CI=true a test that needs the engine or the image fails when it is
missing; elsewhere it is skipped with the command that provides it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import docker
import docker.errors
import pytest

IMAGE = os.environ.get("CONTIMG_IMAGE", "contimg/wsclean:3.7")
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Fail under CI, skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: tests that need it may not skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client of the real Docker engine."""
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except docker.errors.DockerException as error:
        unavailable(f"no Docker engine answers ({error}); run scripts/setup")
    yield client
    client.close()


@pytest.fixture(scope="session")
def worker_image(docker_client: docker.DockerClient) -> str:
    """The real WSClean worker image, present in the engine."""
    try:
        docker_client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        unavailable(f"worker image {IMAGE} is missing; run scripts/build-worker-image")
    return IMAGE
