"""The run's handlers: start the worker when the run starts, remove it at its end.

Snakemake calls these from `onstart`, `onsuccess` and `onerror`. A dry run
calls none of them, so planning never touches the container engine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

import astropy.units as u
import docker.errors
from astropy.coordinates import SkyCoord

from contimg import measurement_set
from contimg.config import Config, clean_options, draw_model_options, predict_options
from contimg.engine import connect
from contimg.errors import ContimgError
from contimg.image_lock import check_lock
from contimg.paths import remove_dead_staging
from contimg.run import RunIdentity, run_id_from_environment
from contimg.runtime import open_runtime
from contimg.worker import WorkerSettings
from contimg.wsclean import (
    Resources,
    clean_command,
    draw_model_command,
    predict_command,
)

logger = logging.getLogger(__name__)


def start_run_worker(
    settings: WorkerSettings,
    commands: Iterable[list[str]],
    image_lock: Path,
    *,
    wsclean_planned: bool = True,
) -> None:
    """Start (or attach to) the run's worker and check its WSClean's options.

    `commands` are examples of every WSClean command the configured rules will
    run; the image must support every option in them. The image must hold the
    content image_lock records, the content the rules were planned with. A run
    with no WSClean step planned (only checks or pictures) starts no worker.
    The roots are checked before, by check_measurement_sets.
    """
    if not wsclean_planned:
        logger.info("no WSClean step to run: no worker is started")
        return
    runtime = open_runtime(settings)
    identity = RunIdentity.current(run_id_from_environment())
    check_lock(image_lock, settings.image, runtime.image_id(settings.image))
    runtime.reap_dead_workers(identity)
    runtime.ensure_worker(identity)
    every_argument = [argument for command in commands for argument in command]
    try:
        runtime.require_options(identity, every_argument)
    except ContimgError:
        # Snakemake calls no onerror when onstart fails: remove the worker here.
        runtime.remove_worker(identity)
        raise
    logger.info("run %s uses worker %s", identity.run_id, identity.worker_name)


def remove_killed_jobs_staging(scratch: Path) -> None:
    """Remove what jobs killed outright on this host left under scratch."""
    for directory in remove_dead_staging(scratch):
        logger.info("removed %s, left by a job that was killed", directory)


def announce_results(results: Path) -> None:
    """Tell where the run's products are and how to look at them."""
    logger.info(
        "products are under %s, a folder per Measurement Set; "
        "`snakemake --report report.html` gathers the pictures and source fluxes "
        "into one page",
        results,
    )


def check_roots(roots: tuple[Path, ...]) -> None:
    """Refuse a mount that does not exist: a typo must not become a new folder."""
    missing = [str(root) for root in roots if not root.is_dir()]
    if missing:
        raise ContimgError(
            f"the data root(s) {', '.join(missing)} do not exist; check roots in "
            "the config (results and scratch are created by scripts/setup or "
            "mkdir; inputs must hold your Measurement Sets)"
        )


def stop_run_worker(settings: WorkerSettings) -> bool:
    """Remove the run's worker within settings.stop_timeout_s; never raise.

    The removal runs in a daemon thread, so an engine that does not answer
    delays Snakemake's exit by the bound at most. Returns whether the worker
    is known to be gone.
    """
    identity = RunIdentity.current(run_id_from_environment())
    outcome: list[BaseException | None] = []

    def remove() -> None:
        try:
            open_runtime(settings).remove_worker(identity)
            outcome.append(None)
        except (ContimgError, docker.errors.DockerException, OSError) as error:
            outcome.append(error)

    thread = threading.Thread(target=remove, name="contimg-teardown", daemon=True)
    thread.start()
    thread.join(settings.stop_timeout_s)
    if outcome == [None]:
        return True
    reason = (
        f"the container engine did not answer within {settings.stop_timeout_s:g} s"
        if not outcome
        else str(outcome[0])
    )
    logger.error(
        "the worker %s may still exist: %s; remove it by hand with: %s rm -f %s",
        identity.worker_name,
        reason,
        settings.runtime,
        identity.worker_name,
    )
    return False


def announce_cluster_run(settings: WorkerSettings) -> None:
    """At the start of a run whose jobs run elsewhere: no worker on this host.

    Each job starts (or attaches to) the run's worker on its own node; this
    host may have no container engine at all, so nothing here touches one.
    """
    logger.info(
        "run %s submits its jobs to a cluster: each node starts the run's worker "
        "when its first job needs it; workers on nodes end after %g s without a "
        "command (worker.idle_timeout_s)",
        run_id_from_environment(),
        settings.idle_timeout_s,
    )


def end_cluster_run(settings: WorkerSettings) -> bool:
    """At the end of a cluster run: remove the run's worker from this host's
    engine, if there is an engine here; workers on other nodes idle out.

    Returns whether a worker on this host is known to be gone (True when there
    is no engine here, as then there is none).
    """
    try:
        connect(
            min(settings.engine_timeout_s, 10.0), settings.runtime, settings.socket
        ).close()
    except ContimgError as error:
        logger.info(
            "no container engine answers on this host (%s); the run's workers on "
            "compute nodes end after %g s without a command",
            error,
            settings.idle_timeout_s,
        )
        return True
    gone = stop_run_worker(settings)
    logger.info(
        "run %s is over; its workers on other nodes end after %g s without a command",
        run_id_from_environment(),
        settings.idle_timeout_s,
    )
    return gone


def planned_commands(config: Config, workdir: Path) -> list[list[str]]:
    """One command of each WSClean rule as the config shapes it (paths made up).

    Used to check, once at the start, that the image supports every option.
    """
    placeholder = workdir / "planned"
    resources = Resources(threads=1, memory_gb=1.0, temp_dir=placeholder)
    centre = SkyCoord(ra=0 * u.deg, dec=0 * u.deg)
    return [
        draw_model_command(
            placeholder / "sky_model.txt",
            placeholder / "model",
            centre,
            1.4e9,
            1.0e6,
            draw_model_options(config["model_image"]),
            resources,
        ),
        predict_command(
            placeholder / "set.ms",
            placeholder / "model",
            predict_options(config["model_image"]),
            resources,
        ),
        clean_command(
            placeholder / "set.ms",
            placeholder / "clean",
            clean_options(config["clean"]),
            resources,
        ),
    ]


def check_measurement_sets(
    config: Config, sets: dict[str, Path], roots: tuple[Path, ...]
) -> None:
    """Before any step: every root exists, and every existing set is complete,
    writable, and has the column to image.

    That each listed set lies under a root was checked when the workflow was
    read (config.check_listed_sets). Sets that do not exist yet (the example,
    made by the workflow) are checked by each step instead. MODEL_DATA is made
    by predict, so it is not required.
    """
    check_roots(roots)
    column = str(config["clean"]["data_column"])
    for path in sets.values():
        if not path.exists():
            continue
        if column == "MODEL_DATA":
            measurement_set.check_structure(path)
        else:  # read_summary checks the structure first
            summary = measurement_set.read_summary(path)
            measurement_set.require_column(summary, column)
        measurement_set.check_writable(path, "predict")
