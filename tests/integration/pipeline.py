"""Running the real pipeline from tests: a working directory, a config, snakemake."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import docker
import yaml

from contimg.engine import connect
from contimg.errors import WorkerImageError
from contimg.image_lock import lock_image, lock_path

REPOSITORY = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
WORKER_FILTER = {"label": "org.contimg.worker=true"}
EXAMPLE_SETS = {
    "cosmos": "resources/example/dsa110_cosmos.ms",
    "cosmos_copy": "resources/copies/dsa110_cosmos_copy.ms",
}
"""The example run's Measurement Sets: the bundled example and a copy of it."""


def base_config() -> dict[str, Any]:
    """The bundled example's config, with repository files made absolute."""
    config: dict[str, Any] = yaml.safe_load(
        (REPOSITORY / "config/config.yaml").read_text()
    )
    config["sky_model"]["catalogue"] = str(
        REPOSITORY / config["sky_model"]["catalogue"]
    )
    for key in ("stations", "catalogue"):
        config["example"][key] = str(REPOSITORY / config["example"][key])
    config["measurement_sets"] = "measurement_sets.tsv"
    return config


def merged(config: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of config with the changes applied section by section."""
    result = copy.deepcopy(dict(config))
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def write_workdir(
    workdir: Path, config: Mapping[str, Any], measurement_sets: Mapping[str, str]
) -> None:
    """A working directory with config.yaml and measurement_sets.tsv."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(dict(config)))
    rows = "".join(f"{name}\t{path}\n" for name, path in measurement_sets.items())
    (workdir / "measurement_sets.tsv").write_text("name\tpath\n" + rows)


def lock_worker_image(workdir: Path, user: tuple[int, int] | None) -> None:
    """Write the workdir's image lock from the engine when there is none."""
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    results = Path(config["roots"]["results"])
    results = results if results.is_absolute() else workdir / results
    path = lock_path(results)
    if path.exists():
        return
    # The content id as the run's runtime holds it (Podman's copy keeps Docker's).
    client = connect(60, config["worker"].get("runtime", "docker"))
    try:
        lock_image(client, path, config["worker"]["image"])
    except WorkerImageError:
        return  # a test of a missing image: the run's start says so
    finally:
        client.close()
    if user is not None:
        for item in (results, path):
            os.chown(item, *user)


def snakemake_command(workdir: Path, arguments: Sequence[str]) -> list[str]:
    """The snakemake command line for the repository's Snakefile in workdir."""
    return [
        SNAKEMAKE,
        "--snakefile", str(REPOSITORY / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"),
        *arguments,
    ]  # fmt: skip


def run_environment(env: Mapping[str, str] | None) -> dict[str, str]:
    """This environment with env laid over it, as a new run's (no run id)."""
    environment = {**os.environ, **(env or {})}
    environment.pop("CONTIMG_RUN_ID", None)
    return environment


def snakemake(
    workdir: Path,
    *arguments: str,
    env: Mapping[str, str] | None = None,
    user: tuple[int, int] | None = None,
    timeout: float = 1500,
) -> subprocess.CompletedProcess[str]:
    """Run the real snakemake on the repository's Snakefile in workdir.

    Before a real run, the worker image is locked for the workdir's results
    (as `contimg lock-image` does) unless a lock is there already; a dry run
    is left to plan with whatever lock there is.
    """
    if "-n" not in arguments:
        lock_worker_image(workdir, user)
    command = snakemake_command(workdir, arguments)
    if user is not None:
        command = [
            "setpriv",
            f"--reuid={user[0]}",
            f"--regid={user[1]}",
            "--init-groups",
            *command,
        ]
    return subprocess.run(
        command,
        env=run_environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Background:
    """Snakemakes started in their own session, as a terminal would start them.

    Each one's output goes to a file, never to a pipe nobody reads (a full pipe
    would stall the run). Whatever is still running at a test's end is killed
    with its whole session (see the `background` fixture), so that one failing
    test cannot leave a long clean loading the machine under the next.
    """

    def __init__(self) -> None:
        self.outputs: dict[int, Path] = {}
        self.processes: list[subprocess.Popen[str]] = []

    def start(
        self, workdir: Path, *arguments: str, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[str]:
        """Start snakemake in workdir with the workdir's config."""
        lock_worker_image(workdir, None)  # as snakemake() does: the start checks it
        output = workdir.with_name(f"{workdir.name}.snakemake-{len(self.outputs)}.out")
        with output.open("w") as sink:
            process = subprocess.Popen(
                snakemake_command(workdir, arguments),
                stdout=sink,
                stderr=subprocess.STDOUT,
                text=True,
                env=run_environment(env),
                start_new_session=True,
            )
        self.outputs[process.pid] = output
        self.processes.append(process)
        return process

    def output(self, process: subprocess.Popen[str]) -> str:
        """What the process has printed so far."""
        return self.outputs[process.pid].read_text(errors="replace")

    def finish(self, process: subprocess.Popen[str], timeout: float) -> str:
        """Wait for the process to end; everything it printed."""
        process.wait(timeout=timeout)
        return self.output(process)

    def kill_all(self) -> None:
        """Kill every session still running, with all of its processes."""
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=60)


class Watch:
    """Calls `look` in a background thread every `interval_s` while a run goes
    on: `with SomeWatch(...) as watch: run()`, then read what it recorded."""

    interval_s: float = 0.25
    _stop: threading.Event
    _thread: threading.Thread

    def look(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.look()
            time.sleep(self.interval_s)


@dataclass
class WorkerWatch(Watch):
    """Counts contimg workers in the engine while a run goes on."""

    client: docker.DockerClient
    workdir: Path | None = None
    """Count only the workers of runs in this directory (None: every worker)."""
    interval_s: float = 0.25
    counts: list[int] = field(default_factory=list)
    names: set[str] = field(default_factory=set)

    def look(self) -> None:
        labels = [WORKER_FILTER["label"]]
        if self.workdir is not None:
            labels.append(f"org.contimg.workdir={self.workdir}")
        workers = self.client.containers.list(
            all=True, filters={"label": labels}, ignore_removed=True
        )
        self.counts.append(len(workers))
        self.names.update(worker.name for worker in workers)


def workers(client: docker.DockerClient) -> list[str]:
    """Names of every contimg worker in the engine, running or not."""
    listed = client.containers.list(
        all=True, filters=WORKER_FILTER, ignore_removed=True
    )
    return [c.name for c in listed]


def tail(result: subprocess.CompletedProcess[str], lines: int = 60) -> str:
    """The end of a run's output, for assertion messages."""
    return "\n".join((result.stdout + result.stderr).splitlines()[-lines:])


def run_command(arguments: Sequence[str]) -> str:
    """Run a command and return its standard output."""
    return subprocess.run(arguments, capture_output=True, text=True, check=True).stdout


@dataclass
class ExampleRun:
    """The example pipeline run once for the tests that look at its products."""

    workdir: Path
    result: subprocess.CompletedProcess[str]
    watch: WorkerWatch
    data_before: dict[str, str]
    client: Any
    """The engine of the runtime the run used (an EngineClient)."""


def data_column_digest(measurement_set: Path) -> str:
    """A checksum of the DATA column, to prove the pipeline never changes it."""
    from casacore.tables import table

    with table(str(measurement_set), ack=False) as main:
        return hashlib.sha256(main.getcol("DATA").tobytes()).hexdigest()


def run_example(client: docker.DockerClient, workdir: Path) -> ExampleRun:
    """The example made by the workflow, copied under a second name, then both
    run through the whole pipeline (rule all) with --cores 2."""
    config = merged(
        base_config(),
        {
            "worker": {"runtime": getattr(client, "runtime", "docker")},
            "roots": {"inputs": ["resources"]},
            "wsclean": {"threads": 1},
            "clean": {"data_column": "MODEL_DATA"},
        },
    )
    # The table lists the copy once it exists: a listed set must exist.
    write_workdir(workdir, config, {"cosmos": EXAMPLE_SETS["cosmos"]})
    made = snakemake(workdir, "--cores", "2", EXAMPLE_SETS["cosmos"])
    assert made.returncode == 0, tail(made)
    shutil.copytree(
        workdir / EXAMPLE_SETS["cosmos"], workdir / EXAMPLE_SETS["cosmos_copy"]
    )
    write_workdir(workdir, config, EXAMPLE_SETS)
    before = {
        name: data_column_digest(workdir / path) for name, path in EXAMPLE_SETS.items()
    }

    with WorkerWatch(client, workdir) as watch:
        result = snakemake(workdir, "--cores", "2")
    return ExampleRun(workdir, result, watch, before, client)
