"""Every way a run can end, against each real engine (Docker, Podman), the image
and snakemake.

Each test interrupts or breaks a running pipeline (a long `clean` of the real
VLA set) and asserts the end state: processes inside the worker, containers,
files, exit status and message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
from docker.models.containers import Container

from contimg.engine import EngineClient
from tests.integration.pipeline import Background, snakemake, tail
from tests.integration.test_endings import vla_workdir

pytestmark = pytest.mark.integration

# Imaging at this size keeps WSClean busy for well over ten seconds.
LONG_CLEAN = {
    "size": 3072,
    "scale_arcsec": 0.2,
    "niter": 100000000,
    "auto_threshold": 0.001,
    "mgain": 0.99,
    "extra": ["-nmiter", "1000"],
}
CLEAN_PRODUCTS = ("image", "residual", "model", "psf")


def run_workers(client: EngineClient, workdir: Path) -> list[Container]:
    """The workers of runs in workdir, in any state."""
    labels = ["org.contimg.worker=true", f"org.contimg.workdir={workdir}"]
    return list(
        client.containers.list(all=True, filters={"label": labels}, ignore_removed=True)
    )


def wsclean_processes(container: Container) -> list[str]:
    """Command lines of WSClean processes inside a worker (none if it is gone)."""
    try:
        listing = container.top(ps_args="-eo pid,args")
    except (docker.errors.APIError, ValueError):
        # ValueError: Podman may answer with an empty body while the worker
        # starts or ends.
        return []
    # Rows are [pid, args] from Docker, ["pid args"] from Podman: the command is
    # the word after the process id either way.
    rows = [" ".join(row) for row in listing.get("Processes") or []]
    return [row for row in rows if any(w.endswith("wsclean") for w in row.split()[1:2])]


def wait_until(condition: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until condition held; fails the test after timeout_s."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"condition not met within {timeout_s} s")


def wait_for_clean(
    client: EngineClient,
    workdir: Path,
    background: Background,
    process: subprocess.Popen[str],
    timeout_s: float = 180,
) -> Container:
    """The run's worker, once the clean step's WSClean runs in it; fails with
    the run's output if the run ends or the clean does not start in time."""
    found: list[Container] = []

    def cleaning() -> bool:
        for worker in run_workers(client, workdir):
            if any("-data-column" in line for line in wsclean_processes(worker)):
                found.append(worker)
                return True
        if process.poll() is not None:
            pytest.fail(
                f"the run ended ({process.returncode}) before its clean started:\n"
                + background.output(process)[-3000:]
            )
        return False

    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if cleaning():
            return found[0]
        time.sleep(0.1)
    states = [(w.name, w.status) for w in run_workers(client, workdir)]
    pytest.fail(
        f"no clean running after {timeout_s} s; workers {states}; the run printed:\n"
        + background.output(process)[-3000:]
    )


@pytest.fixture
def long_run(engine: EngineClient, tmp_path: Path) -> Iterator[Path]:
    """A run with a long clean, on the engine's runtime."""
    workdir = vla_workdir(
        tmp_path / "run", clean=LONG_CLEAN, worker={"runtime": engine.runtime}
    )
    yield workdir


def clean_outputs(workdir: Path) -> list[Path]:
    """The clean step's products that exist."""
    folder = workdir / "results" / "vla" / "clean"
    return [p for p in (folder / f"vla-{k}.fits" for k in CLEAN_PRODUCTS) if p.exists()]


@pytest.mark.parametrize(
    "interrupt",
    [
        pytest.param(lambda p: os.killpg(p.pid, signal.SIGINT), id="ctrl-c"),
        pytest.param(lambda p: os.kill(p.pid, signal.SIGTERM), id="sigterm"),
    ],
)
def test_an_interrupted_run_stops_wsclean_inside_and_reruns(
    engine: EngineClient,
    long_run: Path,
    background: Background,
    interrupt: Callable[[subprocess.Popen[str]], None],
) -> None:
    process = background.start(long_run, "--cores", "2")
    worker = wait_for_clean(engine, long_run, background, process)

    interrupt(process)
    stopped_after = wait_until(lambda: not wsclean_processes(worker), 5)
    output = background.finish(process, timeout=120)

    print(f"WSClean gone from the worker {stopped_after:.1f} s after the interrupt")
    assert process.returncode != 0
    assert run_workers(engine, long_run) == [], output[-3000:]
    assert clean_outputs(long_run) == []

    rerun = snakemake(long_run, "--cores", "2", "--rerun-incomplete")
    assert rerun.returncode == 0, tail(rerun)
    assert len(clean_outputs(long_run)) == len(CLEAN_PRODUCTS)


def start_cleaning_with_short_idle_time(
    client: EngineClient, tmp_path: Path, background: Background
) -> tuple[Path, subprocess.Popen[str]]:
    """A run with a 5 s idle time, once its long clean is under way."""
    workdir = vla_workdir(
        tmp_path / "run",
        clean=LONG_CLEAN,
        worker={"idle_timeout_s": 5, "runtime": client.runtime},
    )
    process = background.start(workdir, "--cores", "2")
    wait_for_clean(client, workdir, background, process)
    return workdir, process


def test_a_killed_snakemake_leaves_a_worker_that_removes_itself_when_idle(
    engine: EngineClient, tmp_path: Path, background: Background
) -> None:
    workdir, process = start_cleaning_with_short_idle_time(engine, tmp_path, background)

    # Like the end of a batch job: every process of the session is killed.
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    # The engine stops the command once it sees the exec's connection closed;
    # on a loaded machine that can take a few seconds.
    stopped_after = wait_until(
        lambda: all(not wsclean_processes(w) for w in run_workers(engine, workdir)),
        30,
    )
    gone_after = wait_until(lambda: not run_workers(engine, workdir), 60)

    print(
        f"WSClean stopped after {stopped_after:.1f} s, worker gone after "
        f"{gone_after:.1f} s more"
    )
    assert clean_outputs(workdir) == []


def test_a_snakemake_killed_alone_leaves_no_worker_once_idle(
    engine: EngineClient, tmp_path: Path, background: Background
) -> None:
    workdir, process = start_cleaning_with_short_idle_time(engine, tmp_path, background)

    # Only Snakemake itself: its running job goes on, then the worker idles out.
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    gone_after = wait_until(lambda: not run_workers(engine, workdir), 240)

    print(f"worker gone {gone_after:.1f} s after Snakemake was killed")
    assert all(not wsclean_processes(w) for w in run_workers(engine, workdir))


def test_a_new_run_removes_the_worker_of_a_killed_one_at_its_start(
    engine: EngineClient, tmp_path: Path, background: Background
) -> None:
    runtime = {"runtime": engine.runtime}
    workdir = vla_workdir(tmp_path / "killed", clean=LONG_CLEAN, worker=runtime)
    process = background.start(workdir, "--cores", "2")
    orphan = wait_for_clean(engine, workdir, background, process)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    # Any later run of the same user on this host, here in another directory.
    result = snakemake(vla_workdir(tmp_path / "next", worker=runtime), "--cores", "2")

    assert result.returncode == 0, tail(result)
    assert f"removing worker {orphan.name}" in result.stdout + result.stderr
    assert run_workers(engine, workdir) == []


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        pytest.param(
            lambda worker: worker.kill(), "killed or removed from outside", id="kill"
        ),
        pytest.param(lambda worker: worker.pause(), "was paused", id="pause"),
    ],
)
def test_a_worker_killed_or_paused_mid_job_gets_its_own_message(
    engine: EngineClient,
    long_run: Path,
    background: Background,
    fault: Callable[[Container], None],
    message: str,
) -> None:
    process = background.start(long_run, "--cores", "2")
    worker = wait_for_clean(engine, long_run, background, process)

    fault(worker)
    output = background.finish(process, timeout=180)

    log = (long_run / "logs" / "vla" / "clean.log").read_text()
    assert process.returncode != 0
    assert message in log, log[-2000:]
    assert clean_outputs(long_run) == []
    assert run_workers(engine, long_run) == [], output[-3000:]


def test_a_worker_with_too_little_memory_says_so(
    engine: EngineClient, tmp_path: Path
) -> None:
    workdir = vla_workdir(
        tmp_path / "run",
        clean=LONG_CLEAN,
        worker={"memory_mb": 128, "runtime": engine.runtime},
    )

    result = snakemake(workdir, "--cores", "2")

    log = (workdir / "logs" / "vla" / "clean.log").read_text()
    assert result.returncode != 0
    assert "out of memory" in log and "worker.memory_mb" in log, log[-2000:]
    assert "(its limit: 128 MB)" in log, log[-2000:]
    assert clean_outputs(workdir) == []
    assert run_workers(engine, workdir) == []
