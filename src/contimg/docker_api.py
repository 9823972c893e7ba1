"""The worker runtime for engines that serve the Docker API: Docker and Podman.

A thin WorkerRuntime over `worker` (the container's life), `execution` (exec
with streamed output) and `reaping`, which take the engine's client and
container objects directly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from contimg.engine import EngineClient, connect
from contimg.errors import WorkerEndedError
from contimg.execution import Usage, run_in_worker
from contimg.image_lock import engine_image_id
from contimg.reaping import reap_dead_workers
from contimg.run import RunIdentity
from contimg.runtime import LineSink, WorkerFacts
from contimg.worker import (
    WorkerSettings,
    ensure_worker,
    remove_worker,
    require_options,
)

logger = logging.getLogger(__name__)


class DockerApiRuntime:
    """One run's worker in a Docker or Podman engine (connected on creation)."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.client: EngineClient = connect(
            settings.engine_timeout_s, settings.runtime, settings.socket
        )
        self._workers: dict[str, Any] = {}

    def worker(self, identity: RunIdentity) -> Any:
        """The run's container, found (or started) by ensure_worker."""
        if identity.worker_name not in self._workers:
            self.ensure_worker(identity)
        return self._workers[identity.worker_name]

    def ensure_worker(self, identity: RunIdentity) -> bool:
        container, started = ensure_worker(self.client, identity, self.settings)
        self._workers[identity.worker_name] = container
        return started

    def fit_worker(self, identity: RunIdentity) -> None:
        from contimg.slurm import fit_worker

        fit_worker(self.worker(identity), self.settings)

    def require_options(self, identity: RunIdentity, arguments: Iterable[str]) -> None:
        require_options(
            self.client, self.worker(identity), self.settings.image, arguments
        )

    def run(
        self,
        identity: RunIdentity,
        arguments: Sequence[str],
        *,
        workdir: Path,
        on_line: LineSink,
    ) -> Usage | None:
        def attempt() -> Usage | None:
            return run_in_worker(
                self.client,
                self.worker(identity),
                arguments,
                workdir=workdir,
                on_line=on_line,
            )

        try:
            return attempt()
        except WorkerEndedError as error:
            # The worker idled out (or was stopped) after this job attached and
            # before its command began: nothing ran, so start it again, once.
            logger.warning("%s before %s could start; starting it again", error,
                           arguments[0])  # fmt: skip
            self._workers.pop(identity.worker_name, None)
            return attempt()

    def image_id(self, image: str) -> str:
        return engine_image_id(self.client, image)

    def facts(self, identity: RunIdentity) -> WorkerFacts:
        container = self.worker(identity)
        image_id = str(container.attrs["Image"])
        return WorkerFacts(
            name=str(container.name),
            image_id=image_id,
            wsclean_version=self.wsclean_version(identity, image_id),
            runtime=self.settings.runtime,
        )

    def wsclean_version(self, identity: RunIdentity, image_id: str) -> str:
        """The image's label of WSClean's version, or what `wsclean -version` says."""
        labels = self.client.images.get(image_id).labels or {}
        if "org.contimg.wsclean-version" in labels:
            return str(labels["org.contimg.wsclean-version"])
        lines: list[str] = []
        self.run(
            identity, ["wsclean", "-version"], workdir=Path("/"), on_line=lines.append
        )
        found = [line for line in lines if line.startswith("WSClean version")]
        return found[0].removeprefix("WSClean version ").strip() if found else "unknown"

    def remove_worker(self, identity: RunIdentity) -> bool:
        self._workers.pop(identity.worker_name, None)
        return remove_worker(self.client, identity, self.settings)

    def reap_dead_workers(self, identity: RunIdentity) -> list[str]:
        return reap_dead_workers(self.client, identity, self.settings)
