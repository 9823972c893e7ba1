"""Engines that serve the Docker API: the Docker engine, and Podman's API service.

Both runtimes are driven through the same client (the Docker SDK) and the
same code in `worker` and `execution`; only the socket differs, and a few
answers Podman gives differently are translated here, once, so that the rest
of contimg sees Docker's.
"""

from __future__ import annotations

import os
from typing import Any

import docker
import docker.errors
from docker.api.client import APIClient

from contimg.errors import WorkerError

DOCKER = "docker"
PODMAN = "podman"
ENGINES = (DOCKER, PODMAN)

PODMAN_ROOT_SOCKET = "/run/podman/podman.sock"


def podman_socket() -> str:
    """Where Podman's API service listens for this user, as a URL.

    CONTAINER_HOST is Podman's own variable for it; otherwise root's service
    listens on /run/podman, a user's (rootless) one under XDG_RUNTIME_DIR.
    """
    if os.environ.get("CONTAINER_HOST"):
        return os.environ["CONTAINER_HOST"]
    if os.getuid() == 0:
        return f"unix://{PODMAN_ROOT_SOCKET}"
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    return f"unix://{runtime_dir}/podman/podman.sock"


class PodmanAPIClient(APIClient):  # type: ignore[misc]
    """The Docker SDK's client, with Podman's error answers made Docker's.

    Podman 4 answers 500 where Docker answers 404 (a container removed while
    it was looked up, an exec of a removed container) or 409 (the name is
    taken). The status is corrected before the SDK picks its exception.
    """

    def _raise_for_status(self, response: Any) -> None:
        if response.status_code == 500:
            text = response.text.lower()
            if "no such container" in text or "no such exec" in text:
                response.status_code = 404
            elif "already in use" in text:
                response.status_code = 409
        super()._raise_for_status(response)


class EngineClient(docker.DockerClient):  # type: ignore[misc]
    """A Docker SDK client that knows which runtime's engine it talks to."""

    api: Any

    def __init__(self, runtime: str, base_url: str | None, timeout_s: float) -> None:
        # Without a URL: DOCKER_HOST and the other variables the docker command reads.
        arguments: dict[str, Any] = {"base_url": base_url}
        if base_url is None:
            arguments = docker.utils.kwargs_from_env()
        timeout = int(max(1, timeout_s))
        super().__init__(**arguments, timeout=timeout)
        if runtime == PODMAN:
            # The API version the first client agreed on: no second round trip.
            version = self.api.api_version
            self.api = PodmanAPIClient(**arguments, timeout=timeout, version=version)
        self.runtime = runtime


def connect(
    timeout_s: float, runtime: str = DOCKER, socket: str | None = None
) -> EngineClient:
    """A client of the runtime's engine, which must answer.

    `socket` (a path or a unix:// URL) overrides where the engine is looked
    for: DOCKER_HOST (or Docker's default) for docker, podman_socket() for
    podman.
    """
    if runtime not in ENGINES:
        raise WorkerError(
            f"worker.runtime is {runtime!r}; expected one of {', '.join(ENGINES)}"
        )
    url = socket if socket is None or "://" in socket else f"unix://{socket}"
    if url is None and runtime == PODMAN:
        url = podman_socket()
    try:
        client = EngineClient(runtime, url, timeout_s)
        client.ping()
    except docker.errors.DockerException as error:
        raise WorkerError(unreachable(runtime, url, error)) from error
    return client


def unreachable(runtime: str, url: str | None, error: Exception) -> str:
    """The message for an engine that does not answer: what to start, or point at."""
    if runtime == PODMAN:
        return (
            f"Podman's API service does not answer at {url} ({error}); start it "
            "with `scripts/start-podman-service` (or `podman system service "
            "--time=0` as the user who runs the pipeline), or set worker.socket"
        )
    where = url or os.environ.get("DOCKER_HOST") or "Docker's default socket"
    return (
        f"the Docker engine cannot be reached at {where} ({error}); start it (for "
        "example `dockerd` or `systemctl start docker`) or point DOCKER_HOST (or "
        "worker.socket) at it"
    )


def command_of(client_or_container: Any) -> str:
    """The command line that operates this engine by hand: docker or podman."""
    client = getattr(client_or_container, "client", client_or_container)
    return str(getattr(client, "runtime", DOCKER))
