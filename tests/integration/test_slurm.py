"""The example through a real one-node SLURM cluster (scripts/start-slurm).

One run serves every test here: `snakemake --profile workflow/profiles/slurm`
on two Measurement Sets (the example and a copy), with one thread per WSClean
job so that both sets' group jobs run on the node at once, sharing the run's
worker. SLURM's queue is watched during the run and its completion log
(JobCompType=jobcomp/filetxt) read after it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import numpy as np
import pytest

from contimg.skymodel import brightest, read_sky_model
from tests.conftest import unavailable
from tests.integration.pipeline import (
    REPOSITORY,
    Background,
    Watch,
    WorkerWatch,
    base_config,
    merged,
    snakemake,
    tail,
    write_workdir,
)
from tests.integration.test_example_pipeline import image_plane
from tests.integration.test_faults import (
    run_workers,
    wait_for_clean,
    wait_until,
    wsclean_processes,
)

pytestmark = pytest.mark.integration

PROFILE = str(REPOSITORY / "workflow/profiles/slurm")
COMPLETION_LOG = Path("/var/log/slurm/jobcomp.log")
IDLE_TIMEOUT_S = 10
KILL_WAIT_S = 10
"""scripts/start-slurm's KillWait: SIGTERM to SIGKILL for a cancelled job."""
MEM_MB = 3000
SETS = {
    "cosmos": "resources/example/dsa110_cosmos.ms",
    "cosmos_copy": "resources/copies/dsa110_cosmos_copy.ms",
}


def node_state() -> str:
    """This host's state as sinfo tells it; empty when no controller answers."""
    try:
        shown = subprocess.run(
            ["sinfo", "--noheader", "--nodes", os.uname().nodename, "-o", "%T"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return shown.stdout.strip()


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """A running one-node SLURM cluster; started here when root may start it."""
    usable = ("idle", "mixed", "allocated", "completing")
    if node_state() not in usable and os.getuid() == 0:
        subprocess.run([str(REPOSITORY / "scripts/start-slurm")], check=False)
    if node_state() not in usable:
        unavailable(
            f"no usable SLURM node on this host (sinfo says {node_state()!r}); "
            "run scripts/start-slurm as root"
        )
    if not COMPLETION_LOG.is_file():
        unavailable(f"SLURM's completion log {COMPLETION_LOG} is missing")


def completion_records(workdir: Path) -> list[dict[str, str]]:
    """The completion log's records of jobs that ran in workdir."""
    records = []
    for line in COMPLETION_LOG.read_text().splitlines():
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if fields.get("WorkDir") == str(workdir):
            records.append(fields)
    return records


def queued_jobs(workdir: Path) -> dict[str, str]:
    """Jobs SLURM knows (queued, running or recently ended) of workdir: id -> state."""
    listed = subprocess.run(
        ["squeue", "--noheader", "--states=all", "--format=%i|%T|%Z"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    jobs = {}
    for line in listed.splitlines():
        job_id, state, job_workdir = line.split("|", 2)
        if job_workdir == str(workdir):
            jobs[job_id] = state
    return jobs


@dataclass
class QueueWatch(Watch):
    """Records the SLURM jobs and the workers' limits of a working directory
    while a run goes on."""

    client: docker.DockerClient
    workdir: Path
    interval_s: float = 0.5
    seen: dict[str, str] = field(default_factory=dict)
    most_running: int = 0
    worker_limits: set[tuple[int, int]] = field(default_factory=set)

    def look(self) -> None:
        jobs = queued_jobs(self.workdir)
        self.seen.update(jobs)
        running = sum(state == "RUNNING" for state in jobs.values())
        self.most_running = max(self.most_running, running)
        self.worker_limits.update(worker_limits(self.client, self.workdir).values())


@dataclass
class SlurmRun:
    workdir: Path
    dry_run: subprocess.CompletedProcess[str]
    dry_run_jobs: dict[str, str]
    dry_run_records: list[dict[str, str]]
    result: subprocess.CompletedProcess[str]
    seconds: float
    queue: QueueWatch
    workers: WorkerWatch
    workers_left_after_idle: list[str]


def worker_limits(
    client: docker.DockerClient, workdir: Path
) -> dict[str, tuple[int, int]]:
    """CPU limit (NanoCpus) and memory limit of each worker of workdir, now."""
    limits = {}
    for container in client.containers.list(
        all=True,
        filters={"label": [f"org.contimg.workdir={workdir}"]},
        ignore_removed=True,
    ):
        try:
            container.reload()  # a listing does not carry the limits
        except docker.errors.NotFound:
            continue
        host_config = container.attrs["HostConfig"]
        limits[str(container.name)] = (host_config["NanoCpus"], host_config["Memory"])
    return limits


@pytest.fixture(scope="module")
def slurm_run(
    slurm_cluster: None,
    docker_client: docker.DockerClient,
    worker_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SlurmRun]:
    workdir = tmp_path_factory.mktemp("slurm")
    config = merged(
        base_config(),
        {
            "roots": {"inputs": ["resources"]},
            "worker": {"idle_timeout_s": IDLE_TIMEOUT_S},
            "wsclean": {"threads": 1, "mem_mb": MEM_MB},
        },
    )
    # The table lists the copy once it exists: a listed set must exist.
    write_workdir(workdir, config, {"cosmos": SETS["cosmos"]})
    made = snakemake(workdir, "--cores", "2", SETS["cosmos"])
    assert made.returncode == 0, tail(made)
    shutil.copytree(workdir / SETS["cosmos"], workdir / SETS["cosmos_copy"])
    write_workdir(workdir, config, SETS)

    no_engine = {"DOCKER_HOST": f"unix://{workdir}/no-such-engine.sock"}
    with WorkerWatch(docker_client, workdir) as dry_workers:
        dry_run = snakemake(workdir, "--profile", PROFILE, "-n", env=no_engine)
    assert not dry_workers.names
    dry_run_jobs, dry_run_records = queued_jobs(workdir), completion_records(workdir)

    with (
        QueueWatch(docker_client, workdir) as queue,
        WorkerWatch(docker_client, workdir) as watch,
    ):
        started = time.monotonic()
        result = snakemake(workdir, "--profile", PROFILE)
        seconds = time.monotonic() - started

    deadline = time.monotonic() + IDLE_TIMEOUT_S + 30
    left = list(worker_limits(docker_client, workdir))
    while left and time.monotonic() < deadline:
        time.sleep(1)
        left = list(worker_limits(docker_client, workdir))
    print(
        f"SLURM run: {seconds:.1f} s, jobs {queue.seen}, at most "
        f"{queue.most_running} running, workers {sorted(watch.names)} with limits "
        f"{sorted(queue.worker_limits)}"
    )
    yield SlurmRun(
        workdir, dry_run, dry_run_jobs, dry_run_records, result, seconds, queue,
        watch, left,
    )  # fmt: skip


def test_a_dry_run_with_the_slurm_profile_submits_nothing_and_needs_no_engine(
    slurm_run: SlurmRun,
) -> None:
    assert slurm_run.dry_run.returncode == 0, tail(slurm_run.dry_run)
    assert "This was a dry-run" in slurm_run.dry_run.stdout + slurm_run.dry_run.stderr
    assert slurm_run.dry_run_jobs == {}
    assert slurm_run.dry_run_records == []


def test_the_example_runs_through_slurm_to_correct_products(
    slurm_run: SlurmRun,
) -> None:
    assert slurm_run.result.returncode == 0, tail(slurm_run.result)
    for name in SETS:
        results = slurm_run.workdir / "results" / name
        for product in ("image", "residual", "model", "psf"):
            assert (results / "clean" / f"{name}-{product}.fits").is_file()
        assert (results / "predict.json").is_file()

    results = slurm_run.workdir / "results" / "cosmos"
    source = brightest(read_sky_model(results / "sky_model.txt"))
    image, wcs, frequency = image_plane(results / "clean" / "cosmos-image.fits")
    clean_model, _, _ = image_plane(results / "clean" / "cosmos-model.fits")
    x, y = (float(v) for v in wcs.world_to_pixel_values(source.ra_deg, source.dec_deg))
    row, column = round(y), round(x)
    box = image[row - 5 : row + 6, column - 5 : column + 6]
    peak_row, peak_column = np.unravel_index(np.argmax(box), box.shape)
    flux = float(clean_model[row - 5 : row + 6, column - 5 : column + 6].sum())
    assert abs(peak_column - 5) <= 1 and abs(peak_row - 5) <= 1
    assert flux == pytest.approx(float(source.flux_at(frequency)), rel=0.02)


def test_one_slurm_job_per_measurement_set_ran_and_completed(
    slurm_run: SlurmRun,
) -> None:
    records = completion_records(slurm_run.workdir)

    assert len(records) == len(SETS), records
    assert {record["JobState"] for record in records} == {"COMPLETED"}
    # The time limit is the sum of the steps' runtimes in the profile
    # (sky_model 10, draw_model 10, predict 30, clean 60, summary 10 minutes).
    assert {record["TimeLimit"] for record in records} == {"120"}, records
    assert set(slurm_run.queue.seen) == {record["JobId"] for record in records}
    # With one thread each, both sets' group jobs ran on the node at once.
    assert slurm_run.queue.most_running == len(SETS)
    # Every step of a set ran in that set's SLURM job.
    for name in SETS:
        jobs = {
            step: slurm_job_of(slurm_run.workdir / "logs" / name / f"{step}.log")
            for step in ("draw_model", "predict", "clean")
        }
        assert len(set(jobs.values())) == 1, jobs
        assert jobs["clean"] in slurm_run.queue.seen


def slurm_job_of(log: Path) -> str:
    """The SLURM job a step ran in, from the line contimg writes into its log."""
    for line in log.read_text().splitlines():
        if "contimg.snakemake_job: SLURM job " in line:
            return line.split("SLURM job ", 1)[1].split(";", 1)[0]
    raise AssertionError(f"{log} names no SLURM job")


def test_one_worker_on_the_node_served_the_run_with_the_granted_resources(
    slurm_run: SlurmRun,
) -> None:
    assert len(slurm_run.workers.names) == 1, slurm_run.workers.names
    assert max(slurm_run.workers.counts) == 1
    clean_log = (slurm_run.workdir / "logs/cosmos/clean.log").read_text()
    # Threads and mem_mb reach WSClean as -j and -abs-mem.
    assert f"'-j', '1', '-abs-mem', '{MEM_MB / 1024:g}'" in clean_log
    # Both jobs held the node at once: the worker had the sum of their grants.
    granted = [
        line
        for name in SETS
        for line in (slurm_run.workdir / "logs" / name / "clean.log")
        .read_text()
        .splitlines()
        if "the worker's limits" in line
    ]
    assert any(f"hold 2 CPUs and {2 * MEM_MB} MB" in line for line in granted), granted
    assert (2 * 10**9, 2 * MEM_MB * 2**20) in slurm_run.queue.worker_limits


def test_no_worker_is_left_after_the_idle_timeout(slurm_run: SlurmRun) -> None:
    assert slurm_run.workers.names
    assert slurm_run.workers_left_after_idle == []


def test_sigterm_cancels_the_runs_slurm_jobs_and_stops_wsclean_on_the_node(
    slurm_run: SlurmRun, docker_client: docker.DockerClient, background: Background
) -> None:
    """Snakemake alone would wait for its SLURM jobs to finish; contimg cancels
    them. (Last here: it leaves the sets' clean products removed.)"""
    workdir = slurm_run.workdir
    # Every target: each set's group job holds clean and the summary after it.
    run = background.start(workdir, "--profile", PROFILE, "--forcerun", "clean")
    worker = wait_for_clean(docker_client, workdir, background, run)
    assert job_processes(workdir), "the job's Snakemake processes are not found"

    run.send_signal(signal.SIGTERM)
    output = background.finish(run, timeout=60)

    assert run.returncode != 0, output
    wait_until(lambda: not wsclean_processes(worker), 30)
    states = {
        record["JobId"]: record["JobState"]
        for record in completion_records(workdir)
        if record["JobId"] not in slurm_run.queue.seen
    }
    assert states and set(states.values()) == {"CANCELLED"}, states
    # Every process of the cancelled jobs ends, even one that hangs on SIGTERM
    # (SLURM kills the job's process group after KillWait).
    wait_until(lambda: not job_processes(workdir), KILL_WAIT_S + 30)
    wait_until(lambda: not run_workers(docker_client, workdir), IDLE_TIMEOUT_S + 30)
    # The cancelled group job's unstarted steps left outputs marked incomplete;
    # the profile reruns them rather than refusing to plan.
    planned = snakemake(workdir, "--profile", PROFILE, "-n")
    assert planned.returncode == 0, tail(planned)
    assert "IncompleteFilesException" not in planned.stdout + planned.stderr


def job_processes(workdir: Path) -> list[str]:
    """Command lines of the Snakemake processes SLURM started for workdir's jobs."""
    found = []
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            arguments = status.read_bytes().split(b"\0")
            cwd = os.readlink(status.parent / "cwd")
        except OSError:
            continue  # ended meanwhile, or not ours to read
        command = b" ".join(arguments).decode(errors="replace")
        if "slurm-jobstep" in command and cwd == str(workdir):
            found.append(command[:200])
    return found
