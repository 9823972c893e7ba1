"""The container runtime behind a run's worker: everything a run asks of it.

The run's handlers (`lifecycle`) and its steps (`steps`) speak only to a
WorkerRuntime. Docker and Podman share one implementation
(`contimg.docker_api`), because both serve the Docker API. A runtime without
that API, such as Apptainer (see docs/apptainer.md), is one more module with
a class that has these methods, and one more entry in `open_runtime`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from contimg.errors import WorkerError
from contimg.execution import Usage
from contimg.run import RunIdentity
from contimg.worker import WorkerSettings

LineSink = Callable[[str], None]


@dataclass(frozen=True)
class WorkerFacts:
    """What a product's provenance says about the worker that made it."""

    name: str
    image_id: str
    wsclean_version: str
    runtime: str


class WorkerRuntime(Protocol):
    """One run's worker on one container runtime, addressed by the run's identity."""

    def ensure_worker(self, identity: RunIdentity) -> bool:
        """Attach to the run's running worker or start it; whether this started it.

        Racing callers (jobs of one run) must end with one worker.
        """
        ...

    def fit_worker(self, identity: RunIdentity) -> None:
        """Give the running worker the settings' limits (a SLURM job's grant)."""
        ...

    def require_options(self, identity: RunIdentity, arguments: Iterable[str]) -> None:
        """Refuse (WorkerImageError) a WSClean that lacks an option in `arguments`."""
        ...

    def run(
        self,
        identity: RunIdentity,
        arguments: Sequence[str],
        *,
        workdir: Path,
        on_line: LineSink,
    ) -> Usage | None:
        """Run an argument list in the worker, its output line by line into `on_line`.

        Returns what the command used inside the worker, if known. Raises
        WSCleanError on a non-zero exit and WorkerError when the worker or the
        runtime fails; the command must end when the calling process does.
        """
        ...

    def image_id(self, image: str) -> str:
        """The content id the runtime holds under the image's name (for the lock)."""
        ...

    def facts(self, identity: RunIdentity) -> WorkerFacts:
        """The worker's name, image and WSClean version, for provenance."""
        ...

    def remove_worker(self, identity: RunIdentity) -> bool:
        """Stop and remove the run's worker; whether there was one."""
        ...

    def reap_dead_workers(self, identity: RunIdentity) -> list[str]:
        """Remove the user's workers on this host whose runs are dead; their names."""
        ...


def open_runtime(settings: WorkerSettings) -> WorkerRuntime:
    """The runtime the config's worker.runtime names, connected."""
    from contimg.engine import ENGINES

    if settings.runtime in ENGINES:
        from contimg.docker_api import DockerApiRuntime

        return DockerApiRuntime(settings)
    raise WorkerError(
        f"worker.runtime is {settings.runtime!r}; expected one of {', '.join(ENGINES)}"
    )
