"""Podman's answers made Docker's, and where each runtime's socket is looked for."""

from __future__ import annotations

import json

import docker.errors
import pytest
import requests

from contimg.engine import PodmanAPIClient, connect, podman_socket
from contimg.errors import WorkerError


def answer(status: int, message: str) -> requests.Response:
    """An engine's HTTP answer, as the SDK receives it."""
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps({"message": message}).encode()
    response.url = "http+docker://localhost/v1.41/containers/contimg-x/json"
    return response


@pytest.mark.parametrize(
    ("message", "error", "status"),
    [
        ("container 3005b7 does not exist in database: no such container",
         docker.errors.NotFound, 404),
        ('the container name "contimg-x" is already in use by ea0d4e',
         docker.errors.APIError, 409),
        ("something else broke", docker.errors.APIError, 500),
    ],
)  # fmt: skip
def test_podmans_500_answers_become_dockers_statuses(
    message: str, error: type[Exception], status: int
) -> None:
    client = PodmanAPIClient(base_url="unix:///nonexistent.sock", version="1.41")

    with pytest.raises(error) as raised:
        client._raise_for_status(answer(500, message))

    assert raised.value.status_code == status


def test_podmans_socket_follows_container_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINER_HOST", "unix:///somewhere/podman.sock")
    assert podman_socket() == "unix:///somewhere/podman.sock"


def test_an_unknown_runtime_is_named_in_the_error() -> None:
    with pytest.raises(WorkerError, match="'apptainer'; expected one of docker"):
        connect(1, "apptainer")
