"""Reading SLURM's grant, and the run identity that reaches jobs on other hosts."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from contimg import run
from contimg.lifecycle import end_cluster_run
from contimg.reaping import owner_is_alive
from contimg.slurm import Grant, record_field, tres_resources, within_grant
from contimg.worker import WorkerSettings

RUNNING_JOB = (
    "JobId=12 JobName=9711572d-8d77 UserId=ada(1000) JobState=RUNNING "
    "NumCPUs=2 TRES=cpu=2,mem=4000M,node=1,billing=2 MinMemoryNode=4000M"
)


def test_a_job_record_gives_its_fields_and_its_cpus_and_memory() -> None:
    assert record_field(RUNNING_JOB, "JobName") == "9711572d-8d77"
    assert record_field(RUNNING_JOB, "Name") is None
    assert tres_resources(RUNNING_JOB) == (2, 4000)


@pytest.mark.parametrize(
    ("tres", "expected"),
    [
        ("AllocTRES=cpu=4,mem=2G,node=1", (4, 2048)),
        ("TRES=cpu=1,mem=1.5G,node=1", (1, 1536)),
        ("TRES=cpu=8,mem=1T", (8, 1024 * 1024)),
        ("TRES=cpu=1,node=1", (1, None)),
        ("JobState=PENDING", (None, None)),
    ],
)
def test_memory_units_of_a_grant_are_read_as_megabytes(
    tres: str, expected: tuple[int | None, int | None]
) -> None:
    assert tres_resources(f"JobId=1 {tres}") == expected


def test_outside_slurm_the_worker_keeps_the_configs_limits() -> None:
    settings = WorkerSettings(image="i", roots=(), memory_mb=500)

    assert within_grant(settings, None) == settings


def test_in_slurm_the_worker_gets_the_grant_unless_the_config_asks_less() -> None:
    grant = Grant(job_ids=("1", "2"), cpus=2, memory_mb=8000)

    unlimited = within_grant(WorkerSettings(image="i", roots=()), grant)
    smaller = within_grant(WorkerSettings(image="i", roots=(), memory_mb=500), grant)
    unknown = within_grant(
        WorkerSettings(image="i", roots=(), memory_mb=500),
        Grant(job_ids=("1",), cpus=1, memory_mb=None),
    )

    assert (unlimited.cpus, unlimited.memory_mb) == (2, 8000)
    assert (smaller.cpus, smaller.memory_mb) == (2, 500)
    assert (unknown.cpus, unknown.memory_mb) == (1, 500)


def forget_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """No run identity in the environment; the test's own is undone after it."""
    for name in ("ID", "PID", "START", "HOST"):
        # setenv first, so that undoing restores the variable's absence too.
        monkeypatch.setenv(f"CONTIMG_RUN_{name}", "")
        monkeypatch.delenv(f"CONTIMG_RUN_{name}")


def test_a_new_run_owns_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    forget_runs(monkeypatch)
    monkeypatch.setenv("CONTIMG_RUN_PID", "1")  # left over from elsewhere

    run_id = run.enter_run()
    identity = run.RunIdentity.current(run_id)

    assert identity.owner_pid == os.getpid()
    assert identity.owner_host == socket.gethostname()
    assert identity.owner_start == run.process_start(os.getpid())


def test_a_job_on_another_host_keeps_the_owner_that_came_with_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    forget_runs(monkeypatch)
    # What sbatch --export=ALL hands a job on a compute node.
    monkeypatch.setenv("CONTIMG_RUN_ID", "20260101T000000-abcdef")
    monkeypatch.setenv("CONTIMG_RUN_PID", "4242")
    monkeypatch.setenv("CONTIMG_RUN_START", "123456")
    monkeypatch.setenv("CONTIMG_RUN_HOST", "login-node")

    identity = run.RunIdentity.current(run.enter_run())

    assert identity.run_id == "20260101T000000-abcdef"
    assert (identity.owner_pid, identity.owner_start) == (4242, "123456")
    assert identity.owner_host == "login-node"
    assert identity.host == socket.gethostname()


@dataclass
class Labelled:
    """Stands in for a container: owner_is_alive reads only its labels."""

    labels: dict[str, str] = field(default_factory=dict)


def test_a_worker_whose_run_is_owned_on_another_host_is_never_taken_for_dead() -> None:
    dead_pid = {
        "org.contimg.owner-pid": str(2**22 + 17),
        "org.contimg.owner-start": "1",
    }

    elsewhere = Labelled({**dead_pid, "org.contimg.owner-host": "login-node"})
    here = Labelled({**dead_pid, "org.contimg.owner-host": socket.gethostname()})
    older = Labelled(dead_pid)

    assert owner_is_alive(elsewhere)  # type: ignore[arg-type]
    assert not owner_is_alive(here)  # type: ignore[arg-type]
    assert not owner_is_alive(older)  # type: ignore[arg-type]


def test_a_cluster_runs_end_without_an_engine_on_the_submitting_host_is_quick(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    caplog.set_level("INFO")
    started = time.monotonic()

    gone = end_cluster_run(WorkerSettings(image="i", roots=(), idle_timeout_s=120))

    assert gone
    assert time.monotonic() - started < 5
    assert "no container engine answers on this host" in caplog.text
    assert "end after 120 s without a command" in caplog.text
