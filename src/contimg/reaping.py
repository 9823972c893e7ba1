"""Removing the workers of runs that are provably dead.

A run's worker outlives its run only when the run ended without its handlers
(SIGKILL, a lost login shell, `--no-hooks`). Such a worker ends by itself once
idle; a new run on the same host removes it at once when its owner process is
gone. Only containers with contimg's worker label, of the invoking user, on
this host, are ever looked at.
"""

from __future__ import annotations

import logging
import socket

import docker
from docker.models.containers import Container

from contimg.run import RunIdentity, process_start
from contimg.worker import (
    LABEL_PREFIX,
    RUN_LABEL,
    WorkerSettings,
    list_workers,
    remove_container,
)

logger = logging.getLogger(__name__)


def owned_workers(
    client: docker.DockerClient, identity: RunIdentity
) -> list[Container]:
    """Workers of the invoking user on this host, of any run, in any state."""
    return list_workers(
        client,
        {
            f"{LABEL_PREFIX}.owner": str(identity.uid),
            f"{LABEL_PREFIX}.host": identity.host,
        },
    )


def owner_is_alive(container: Container) -> bool:
    """Whether the process that owns the worker's run still runs.

    The process id alone could have been reused; its start time tells. An
    owner on another host (a run that submitted jobs to a cluster) cannot be
    looked at from here: nothing proves it dead, and the worker idles out.
    """
    labels = container.labels
    owner_host = labels.get(f"{LABEL_PREFIX}.owner-host")
    if owner_host is not None and owner_host != socket.gethostname():
        return True
    try:
        pid = int(labels.get(f"{LABEL_PREFIX}.owner-pid", ""))
    except ValueError:
        return True  # no owner recorded: nothing proves the run dead
    recorded = labels.get(f"{LABEL_PREFIX}.owner-start")
    if recorded is None:
        return True  # an older worker without the start time: nothing proves it dead
    started = process_start(pid)
    return started is not None and started == recorded


def reap_dead_workers(
    client: docker.DockerClient, identity: RunIdentity, settings: WorkerSettings
) -> list[str]:
    """Remove the user's workers on this host whose runs are dead; their names."""
    reaped = []
    for container in owned_workers(client, identity):
        if container.labels.get(RUN_LABEL) == identity.run_id:
            continue
        if owner_is_alive(container):
            continue
        logger.info(
            "removing worker %s of run %s, whose Snakemake process is gone",
            container.name,
            container.labels.get(RUN_LABEL),
        )
        remove_container(container, settings.stop_timeout_s)
        reaped.append(str(container.name))
    return reaped
