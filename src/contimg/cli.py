"""`contimg`: operator commands for the workers on this host's container engine.

contimg workers            list contimg workers (run, owner, host, age, state)
contimg remove RUN         remove one run's worker (yours only)
contimg reap               remove your workers whose runs are dead
contimg reproduce PRODUCT  print the commands that made a product
contimg lock-image         record the worker image's content for the results
contimg --runtime podman workers    the same for Podman's workers (and so on)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import docker.errors
import yaml
from docker.models.containers import Container

from contimg import logs
from contimg.engine import DOCKER, ENGINES, EngineClient, connect
from contimg.errors import ContimgError
from contimg.image_lock import lock_image, lock_path
from contimg.provenance import find_record, reproduction
from contimg.reaping import reap_dead_workers
from contimg.run import RunIdentity
from contimg.worker import (
    IDLE_FILE,
    LABEL_PREFIX,
    RUN_LABEL,
    WorkerSettings,
    list_workers,
    remove_container,
)

logger = logging.getLogger(__name__)


def age(container: Container) -> str:
    """How long ago the container was created, as h:mm:ss."""
    created = datetime.fromisoformat(
        container.attrs["Created"][:26].rstrip("Z") + "+00:00"
    )
    seconds = int((datetime.now(UTC) - created).total_seconds())
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def idle_time(container: Container) -> str:
    """Seconds since the worker last ran a command, as its watchdog counts them."""
    if container.status != "running":
        return "-"
    try:
        result = container.exec_run(["cat", IDLE_FILE])
    except docker.errors.APIError:
        return "?"
    text = result.output.decode(errors="replace").strip()
    return f"{text}s" if result.exit_code == 0 and text.isdigit() else "?"


def print_workers(client: EngineClient) -> int:
    """Print one line per worker."""
    rows: list[tuple[str, ...]] = [
        ("RUN", "OWNER", "HOST", "AGE", "IDLE", "STATE", "NAME")
    ]
    for container in list_workers(client):
        labels = container.labels
        rows.append(
            (
                labels.get(RUN_LABEL, "?"),
                f"{labels.get(f'{LABEL_PREFIX}.owner-name', '?')}"
                f"({labels.get(f'{LABEL_PREFIX}.owner', '?')})",
                labels.get(f"{LABEL_PREFIX}.host", "?"),
                age(container),
                idle_time(container),
                container.status,
                container.name or "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            )
        )
    return 0


def remove_run(run_id: str, client: EngineClient, stop_timeout_s: float) -> int:
    """Remove the worker of one run, when it belongs to the invoking user."""
    matching = list_workers(
        client,
        {RUN_LABEL: run_id, f"{LABEL_PREFIX}.owner": str(os.getuid())},
    )
    if not matching:
        logger.error(
            "no worker of run %s owned by uid %d on this engine", run_id, os.getuid()
        )
        return 1
    for container in matching:
        remove_container(container, stop_timeout_s)
        logger.info("removed %s", container.name)
    return 0


def reap(client: EngineClient, stop_timeout_s: float) -> int:
    """Remove the invoking user's workers on this host whose runs are dead."""
    identity = RunIdentity.current(run_id="")
    settings = WorkerSettings(image="", roots=(), stop_timeout_s=stop_timeout_s)
    reaped = reap_dead_workers(client, identity, settings)
    logger.info("removed %d worker(s) of dead runs", len(reaped))
    return 0


def reproduce(product: Path) -> int:
    """Print how a product was made, as a command that runs it again."""
    print(reproduction(find_record(product)))
    sys.stdout.flush()  # here, so that a closed pipe is met inside main
    return 0


def configured(config_files: Sequence[Path]) -> tuple[str | None, str, str]:
    """worker.image, roots.results and worker.runtime as Snakemake would see
    them: the config/config.yaml here, then each config file laid over it."""
    image: str | None = None
    results = "results"
    runtime = DOCKER
    default = Path("config/config.yaml")
    files = [default, *config_files] if default.is_file() else list(config_files)
    for path in files:
        if not path.is_file():
            raise ContimgError(f"config file {path} does not exist")
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        image = config.get("worker", {}).get("image", image)
        results = config.get("roots", {}).get("results", results)
        runtime = config.get("worker", {}).get("runtime", runtime)
    return image, results, runtime


def lock(image: str | None, results: Path, client: EngineClient) -> int:
    """Record the content the engine holds under the worker image's name."""
    if not image:
        raise ContimgError(
            "no image to lock: give --image or --configfile, or run in a directory "
            "whose config/config.yaml sets worker.image"
        )
    path = lock_path(results)
    image_id = lock_image(client, path, image)
    logger.info("locked %s as %s in %s", image, image_id, path)
    return 0


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="contimg", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--engine-timeout",
        type=float,
        default=60.0,
        help="seconds to wait for each call to the engine (default 60)",
    )
    parser.add_argument(
        "--runtime",
        choices=ENGINES,
        help="the container runtime whose workers to handle (default: "
        "worker.runtime of config/config.yaml here, and of lock-image's "
        "--configfile; else docker)",
    )
    parser.add_argument(
        "--socket",
        help="the engine's API socket (default: the runtime's usual one, as in "
        "the config's worker.socket)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("workers", help="list contimg workers on this engine")
    remove = commands.add_parser("remove", help="remove one run's worker")
    remove.add_argument(
        "run", help="the run's identifier (the RUN column of `workers`)"
    )
    remove.add_argument(
        "--stop-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the worker to stop before it is killed (30)",
    )
    again = commands.add_parser("reproduce", help="print how a product was made")
    again.add_argument("product", type=Path, help="a FITS product or a record")
    reaping = commands.add_parser("reap", help="remove workers of dead runs")
    reaping.add_argument(
        "--stop-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for each worker to stop before it is killed (30)",
    )
    locking = commands.add_parser(
        "lock-image", help="record the worker image's content for a results root"
    )
    locking.add_argument(
        "--image", help="the image (default: worker.image of config/config.yaml)"
    )
    locking.add_argument(
        "--results",
        type=Path,
        help="the results root (default: roots.results of config/config.yaml)",
    )
    locking.add_argument(
        "--configfile",
        type=Path,
        nargs="+",
        default=[],
        help="config files laid over config/config.yaml, as snakemake's "
        "--configfile: their worker.image and roots.results are used",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `contimg` command."""
    arguments = parse_arguments(argv)
    logs.configure()
    try:
        if arguments.command == "reproduce":
            return reproduce(arguments.product)
        image, results, runtime = configured(getattr(arguments, "configfile", []))
        client = connect(
            arguments.engine_timeout, arguments.runtime or runtime, arguments.socket
        )
        if arguments.command == "workers":
            return print_workers(client)
        if arguments.command == "lock-image":
            return lock(
                arguments.image or image, arguments.results or Path(results), client
            )
        if arguments.command == "reap":
            return reap(client, arguments.stop_timeout)
        return remove_run(arguments.run, client, arguments.stop_timeout)
    except ContimgError as error:
        logger.error("%s", error)
        return 1
    except BrokenPipeError:
        # The reader went away (`contimg reproduce X | head`): not an error.
        # Later writes (the interpreter's last flush) go nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
