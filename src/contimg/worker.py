"""The run's worker: one long-lived WSClean container per run and host.

The worker is started once (by the run's `onstart` handler, or lazily by the
first job that finds it missing), idles under an init process, runs every
WSClean command through `docker exec`, and is removed when the run ends.
Its name is derived from the run, so racing starts end in one container: the
engine refuses a second container of the same name, and the loser attaches.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from docker.types import Mount

from contimg.engine import DOCKER, command_of
from contimg.errors import WorkerError, WorkerImageError, WSCleanError
from contimg.run import RunIdentity
from contimg.wsclean import option_names, supported_options

logger = logging.getLogger(__name__)

LABEL_PREFIX = "org.contimg"
WORKER_LABEL = f"{LABEL_PREFIX}.worker"
RUN_LABEL = f"{LABEL_PREFIX}.run"
HOME_IN_WORKER = "/home/contimg"
"""A private tmpfs: the worker's HOME and TMPDIR (its root file system is read-only)."""


@dataclass(frozen=True)
class WorkerSettings:
    """How the run's worker is made: the config's `worker` section, resolved."""

    image: str
    """Container image with WSClean (a local tag or a registry reference)."""
    roots: tuple[Path, ...]
    """Host directories mounted read-write at the same path in the worker."""
    runtime: str = DOCKER
    """The container runtime whose engine runs the worker: docker or podman."""
    socket: str | None = None
    """The engine's API socket; None: the runtime's usual one."""
    memory_mb: int | None = None
    """Memory limit of the worker container; None sets none."""
    cpus: float | None = None
    """CPU limit of the worker container (in a SLURM job: the CPUs granted)."""
    pids_limit: int = 4096
    """Most processes and threads the worker may hold at once."""
    engine_timeout_s: float = 60.0
    """Longest wait for any single call to the container engine."""
    stop_timeout_s: float = 30.0
    """Longest wait for the worker to stop before it is killed and removed."""
    start_timeout_s: float = 60.0
    """Longest wait for a worker started by another job to come up."""
    idle_timeout_s: float = 900.0
    """The worker ends (and is removed) after this long with no command running."""


# The worker's main process: it ends once no exec'd command has run for `limit`
# seconds. Exec'd commands are the processes whose parent is outside the
# worker (parent id 0), besides the init process itself.
IDLE_WATCHDOG = """limit=$1
idle=0
while [ "$idle" -lt "$limit" ]; do
    sleep 1
    if [ "$(ps -e -o ppid= | grep -c '^ *0$')" -gt 1 ]; then
        idle=0
    else
        idle=$((idle + 1))
    fi
    echo "$idle" >"$HOME/idle-seconds"
done
"""
IDLE_FILE = "/home/contimg/idle-seconds"


def worker_labels(identity: RunIdentity, settings: WorkerSettings) -> dict[str, str]:
    """Labels that say a container is contimg's, and whose and which run's it is."""
    return {
        WORKER_LABEL: "true",
        RUN_LABEL: identity.run_id,
        f"{LABEL_PREFIX}.host": identity.host,
        f"{LABEL_PREFIX}.owner": str(identity.uid),
        f"{LABEL_PREFIX}.owner-name": identity.user,
        f"{LABEL_PREFIX}.owner-pid": str(identity.owner_pid),
        f"{LABEL_PREFIX}.owner-start": identity.owner_start,
        f"{LABEL_PREFIX}.owner-host": identity.owner_host,
        f"{LABEL_PREFIX}.image": settings.image,
        f"{LABEL_PREFIX}.workdir": str(identity.workdir),
    }


def container_arguments(
    identity: RunIdentity, settings: WorkerSettings
) -> dict[str, Any]:
    """Everything the engine is told when the worker is created."""
    mounts = [
        Mount(target=str(root), source=str(root), type="bind", read_only=False)
        for root in settings.roots
    ]
    arguments: dict[str, Any] = {
        "image": settings.image,
        "command": idle_command(settings.idle_timeout_s),
        "name": identity.worker_name,
        "labels": worker_labels(identity, settings),
        "init": True,
        "user": f"{identity.uid}:{identity.gid}",
        "environment": {
            "HOME": HOME_IN_WORKER,
            "TMPDIR": HOME_IN_WORKER,
            "LANG": "C.UTF-8",
        },
        "network_mode": "none",
        "mounts": mounts,
        "working_dir": HOME_IN_WORKER,
        "read_only": True,
        "tmpfs": private_folders(settings.roots),
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": settings.pids_limit,
        "detach": True,
        # A worker that ended by itself (idle) removes itself.
        "auto_remove": True,
    }
    if settings.memory_mb is not None:
        arguments["mem_limit"] = f"{settings.memory_mb}m"
        arguments["memswap_limit"] = f"{settings.memory_mb}m"
    if settings.cpus is not None:
        arguments["nano_cpus"] = int(settings.cpus * 1e9)
    return arguments


def private_folders(roots: tuple[Path, ...]) -> dict[str, str]:
    """The worker's tmpfs mounts: HOME, and /tmp unless a data root lies in it."""
    options = "rw,nosuid,nodev,mode=1777"
    folders = {HOME_IN_WORKER: options}
    if not any(root == Path("/tmp") or root.is_relative_to("/tmp") for root in roots):
        folders["/tmp"] = options
    return folders


def idle_command(idle_timeout_s: float) -> list[str]:
    """The worker's main process: idle until no command has run for the timeout."""
    return ["sh", "-c", IDLE_WATCHDOG, "contimg-idle", str(int(idle_timeout_s))]


def list_workers(
    client: docker.DockerClient, labels: Mapping[str, str] | None = None
) -> list[Container]:
    """Containers with contimg's worker label (and these labels), in any state."""
    wanted = [f"{WORKER_LABEL}=true"]
    wanted += [f"{key}={value}" for key, value in (labels or {}).items()]
    # Workers remove themselves when idle: one may vanish between the engine's
    # listing and the look at each container, which is not an error.
    containers: list[Container] = client.containers.list(
        all=True, filters={"label": wanted}, ignore_removed=True
    )
    return containers


def find_worker(client: docker.DockerClient, identity: RunIdentity) -> Container | None:
    """The container that carries the run's worker name, if there is one."""
    try:
        return client.containers.get(identity.worker_name)
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as error:
        raise WorkerError(
            f"the {command_of(client)} engine failed to look up container "
            f"{identity.worker_name}: "
            f"{error}"
        ) from error


def is_this_runs(container: Container, identity: RunIdentity) -> bool:
    """Whether a container is contimg's worker for exactly this run and owner."""
    labels: Mapping[str, str] = container.labels
    return (
        labels.get(WORKER_LABEL) == "true"
        and labels.get(RUN_LABEL) == identity.run_id
        and labels.get(f"{LABEL_PREFIX}.owner") == str(identity.uid)
    )


def ensure_worker(
    client: docker.DockerClient, identity: RunIdentity, settings: WorkerSettings
) -> tuple[Container, bool]:
    """Attach to the run's running worker, or start it when it is missing.

    Returns the worker and whether this call started it. Racing callers (jobs
    of one run, threads or processes) end with the one worker: the engine
    refuses a second container of the run's name, and the losers attach.
    """
    deadline = time.monotonic() + settings.start_timeout_s
    while time.monotonic() < deadline:
        container = find_worker(client, identity)
        if container is None:
            started = start_worker(client, identity, settings)
            if started is not None:
                return started, True
            continue  # another caller's worker holds the name: attach to it
        if not is_this_runs(container, identity):
            raise foreign_name_error(container, identity)
        state = container_state(container)
        if state.get("Running") and not state.get("Paused"):
            return container, False
        if state.get("Paused"):
            raise WorkerError(
                f"the worker {identity.worker_name} is paused; resume it with "
                f"`{settings.runtime} unpause {identity.worker_name}` and rerun"
            )
        if state.get("OOMKilled"):
            raise WorkerError(
                f"the worker {identity.worker_name} was killed for running out of "
                f"memory (limit {settings.memory_mb} MB); raise worker.memory_mb in "
                "the config or give the rule more mem_mb, then rerun"
            )
        if state.get("Status") not in ("created", "restarting"):
            # Exited, dead or being removed: clear the name for a fresh worker.
            logger.warning(
                "worker %s is %s; starting a new one",
                identity.worker_name,
                state.get("Status"),
            )
            remove_container(container, settings.stop_timeout_s)
        time.sleep(0.2)
    raise WorkerError(
        f"the worker {identity.worker_name} did not come up within "
        f"{settings.start_timeout_s:g} s; see `{settings.runtime} ps -a` and the "
        "engine's log"
    )


def start_worker(
    client: docker.DockerClient, identity: RunIdentity, settings: WorkerSettings
) -> Container | None:
    """Create and start the worker; None when the name is already taken."""
    require_image(client, settings.image)
    try:
        container = client.containers.run(**container_arguments(identity, settings))
    except docker.errors.APIError as error:
        if error.status_code == 409:
            logger.debug("worker %s was started by another job", identity.worker_name)
            return None
        raise WorkerError(
            f"the worker {identity.worker_name} could not be started from image "
            f"{settings.image}: {error.explanation or error}"
        ) from error
    logger.info(
        "worker %s started from %s (mounts: %s)",
        identity.worker_name,
        settings.image,
        ", ".join(map(str, settings.roots)),
    )
    return container


def container_state(container: Container) -> dict[str, Any]:
    """The container's current state; a vanished one reads as removed."""
    try:
        container.reload()
    except docker.errors.NotFound:
        return {"Status": "removing"}
    state: dict[str, Any] = container.attrs["State"]
    return state


def foreign_name_error(container: Container, identity: RunIdentity) -> WorkerError:
    """The error for a container that holds the run's name but is not its worker."""
    return WorkerError(
        f"a container named {identity.worker_name} exists but is not this run's "
        f"worker (labels {container.labels}); contimg leaves it alone: remove it "
        f"with `{command_of(container)} rm -f {identity.worker_name}` if it is yours, "
        "or start a new "
        "run (a new run has a new name)"
    )


def require_image(client: docker.DockerClient, image: str) -> None:
    """Refuse to go on without the worker image in the local engine."""
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound as error:
        engine = command_of(client)
        raise WorkerImageError(
            f"the worker image {image} is not in the local {engine} engine; "
            f"check its spelling in worker.image against `{engine} images`; to "
            "make contimg's own image (contimg/wsclean:3.7) run "
            "`scripts/build-worker-image` (for podman, `scripts/setup` copies it "
            "from Docker), or name any image that has WSClean 3.7 or newer"
        ) from error


def remove_container(container: Container, stop_timeout_s: float) -> None:
    """Stop (politely, then by force) and remove a container that may be gone.

    Returns once the engine no longer lists it, or raises WorkerError naming
    the command that removes it by hand.
    """
    deadline = time.monotonic() + stop_timeout_s
    by_hand = f"`{command_of(container)} rm -f {container.name}`"
    try:
        container.stop(timeout=max(1, int(stop_timeout_s / 3)))
    except docker.errors.NotFound:
        return
    except docker.errors.APIError as error:  # paused, say: forced removal kills it
        logger.debug(
            "stopping %s failed (%s); removing it by force", container.name, error
        )
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        return
    except docker.errors.APIError as error:
        if error.status_code != 409:  # 409: removal already in progress
            raise WorkerError(
                f"the worker {container.name} could not be removed ({error}); remove "
                f"it by hand with {by_hand}"
            ) from error

    while time.monotonic() < deadline:
        try:
            container.reload()
        except docker.errors.NotFound:
            return
        time.sleep(0.1)
    raise WorkerError(
        f"the worker {container.name} was still listed {stop_timeout_s:g} s after "
        f"its removal began; remove it by hand with {by_hand}"
    )


def remove_worker(
    client: docker.DockerClient, identity: RunIdentity, settings: WorkerSettings
) -> bool:
    """Remove the run's worker if it exists; whether there was one to remove."""
    container = find_worker(client, identity)
    if container is None or not is_this_runs(container, identity):
        return False
    remove_container(container, settings.stop_timeout_s)
    logger.info("worker %s removed", identity.worker_name)
    return True


def require_options(
    client: docker.DockerClient,
    container: Container,
    image: str,
    arguments: Iterable[str],
) -> None:
    """Refuse an image whose WSClean lacks an option that contimg will pass it."""
    from contimg.execution import run_in_worker

    usage: list[str] = []
    # Some versions exit non-zero after printing their usage.
    with contextlib.suppress(WSCleanError):
        run_in_worker(
            client,
            container,
            ["wsclean"],
            workdir=Path(HOME_IN_WORKER),
            on_line=usage.append,
        )
    missing = sorted(option_names(arguments) - supported_options("\n".join(usage)))
    if missing:
        raise WorkerImageError(
            f"the WSClean in image {image} does not know {', '.join(missing)}, "
            "which the config asks for: check its spelling (clean.extra holds "
            "options verbatim), or use an image whose WSClean has it "
            "(`scripts/build-worker-image` builds WSClean 3.7)"
        )
    logger.debug(
        "image %s supports every option used: %s",
        image,
        sorted(option_names(arguments)),
    )
