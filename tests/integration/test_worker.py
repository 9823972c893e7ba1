"""The worker container against each real engine (Docker, Podman) and the real image."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from contimg.docker_api import DockerApiRuntime
from contimg.engine import EngineClient, connect
from contimg.errors import WorkerError, WorkerImageError, WSCleanError
from contimg.execution import run_in_worker
from contimg.run import RunIdentity, new_run_id
from contimg.worker import (
    WorkerSettings,
    ensure_worker,
    find_worker,
    remove_worker,
    require_options,
)
from tests.conftest import IMAGE

pytestmark = pytest.mark.integration


@pytest.fixture
def identity() -> RunIdentity:
    return RunIdentity.current(new_run_id())


@pytest.fixture
def settings(engine: EngineClient, tmp_path: Path) -> WorkerSettings:
    return WorkerSettings(
        image=IMAGE, roots=(tmp_path,), stop_timeout_s=5, runtime=engine.runtime
    )


@pytest.fixture
def cleanup(
    engine: EngineClient, identity: RunIdentity, settings: WorkerSettings
) -> Iterator[None]:
    yield
    remove_worker(engine, identity, settings)


@pytest.mark.usefixtures("cleanup")
def test_a_started_worker_is_isolated_labelled_and_runs_as_the_user(
    engine: EngineClient,
    identity: RunIdentity,
    settings: WorkerSettings,
    tmp_path: Path,
) -> None:
    container, started = ensure_worker(engine, identity, settings)

    host_config = container.attrs["HostConfig"]
    assert started
    assert container.name == identity.worker_name
    assert container.labels["org.contimg.run"] == identity.run_id
    assert container.labels["org.contimg.owner"] == str(os.getuid())
    assert container.labels["org.contimg.host"] == identity.host
    assert host_config["NetworkMode"] == "none"
    assert host_config["Init"] is True
    assert host_config["ReadonlyRootfs"] is True
    assert container.attrs["Config"]["User"] == f"{os.getuid()}:{os.getgid()}"
    mounts = {(m["Source"], m["Destination"]) for m in container.attrs["Mounts"]}
    assert (str(tmp_path), str(tmp_path)) in mounts
    # What the worker's processes really get: no capabilities, no new privileges.
    status: list[str] = []
    run_in_worker(
        engine, container, ["cat", "/proc/self/status"], workdir=tmp_path,
        on_line=status.append,
    )  # fmt: skip
    assert "CapEff:\t0000000000000000" in status
    assert "NoNewPrivs:\t1" in status


@pytest.mark.usefixtures("cleanup")
def test_a_second_job_attaches_to_the_running_worker(
    engine: EngineClient, identity: RunIdentity, settings: WorkerSettings
) -> None:
    first, started_first = ensure_worker(engine, identity, settings)
    second, started_second = ensure_worker(engine, identity, settings)

    assert (started_first, started_second) == (True, False)
    assert first.id == second.id


@pytest.mark.usefixtures("cleanup")
def test_racing_lazy_starts_end_in_one_worker(
    engine: EngineClient, identity: RunIdentity, settings: WorkerSettings
) -> None:
    def start(_: int) -> str:
        container, _started = ensure_worker(engine, identity, settings)
        return str(container.id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(start, range(8)))

    listed = engine.containers.list(
        all=True, filters={"label": f"org.contimg.run={identity.run_id}"}
    )
    assert len(ids) == 1
    assert [c.id for c in listed] == list(ids)


@pytest.mark.usefixtures("cleanup")
def test_exec_streams_lines_and_writes_as_the_user(
    engine: EngineClient,
    identity: RunIdentity,
    settings: WorkerSettings,
    tmp_path: Path,
) -> None:
    container, _ = ensure_worker(engine, identity, settings)
    lines: list[str] = []

    run_in_worker(
        engine,
        container,
        ["touch", str(tmp_path / "made in the worker")],
        workdir=tmp_path,
        on_line=lines.append,
    )
    run_in_worker(
        engine,
        container,
        ["wsclean", "-version"],
        workdir=tmp_path,
        on_line=lines.append,
    )

    assert any(line.startswith("WSClean version 3.7") for line in lines)
    made = tmp_path / "made in the worker"
    assert made.stat().st_uid == os.getuid()


def test_a_plain_users_worker_runs_as_that_user_and_writes_their_files(
    engine: EngineClient, settings: WorkerSettings, tmp_path: Path
) -> None:
    """The runtime honours the run's uid:gid (a plain user's, when this is root)."""
    uid, gid = (os.getuid(), os.getgid()) if os.getuid() else (54321, 54322)
    plain = RunIdentity(**{**vars(RunIdentity.current(new_run_id())), "uid": uid,
                           "gid": gid})  # fmt: skip
    tmp_path.chmod(0o777)
    try:
        container, _ = ensure_worker(engine, plain, settings)
        said: list[str] = []
        run_in_worker(
            engine, container, ["sh", "-c", 'id -u; id -g; touch "$0"',
                                str(tmp_path / "theirs")],
            workdir=tmp_path, on_line=said.append,
        )  # fmt: skip
    finally:
        remove_worker(engine, plain, settings)

    assert said[:2] == [str(uid), str(gid)]
    made = (tmp_path / "theirs").stat()
    assert (made.st_uid, made.st_gid) == (uid, gid)


@pytest.mark.usefixtures("cleanup")
def test_exec_measures_cpu_and_peak_memory_inside_the_worker(
    engine: EngineClient,
    identity: RunIdentity,
    settings: WorkerSettings,
    tmp_path: Path,
) -> None:
    container, _ = ensure_worker(engine, identity, settings)
    lines: list[str] = []
    # Holds about 200 MB while it burns 1.2 s of CPU (perl is in the image); the
    # Python client of the exec uses neither.
    hog = (
        "my $b = 'x' x (200 << 20); "
        "while ((times)[0] < 1.2) { my $s = 0; $s += $_ for 1..10000 } print 'held';"
    )

    usage = run_in_worker(
        engine, container, ["perl", "-e", hog], workdir=tmp_path,
        on_line=lines.append,
    )  # fmt: skip

    assert usage is not None
    print(usage)
    assert 150 < usage.peak_rss_mb < 400
    assert usage.cpu_user_s + usage.cpu_system_s > 1.0
    assert usage.wall_s >= 1.0
    assert lines == ["held"]  # the supervisor's own lines are taken out


@pytest.mark.usefixtures("cleanup")
def test_a_failing_command_reports_arguments_exit_code_and_last_lines(
    engine: EngineClient,
    identity: RunIdentity,
    settings: WorkerSettings,
    tmp_path: Path,
) -> None:
    container, _ = ensure_worker(engine, identity, settings)
    arguments = [
        "wsclean",
        "-weight",
        "nonsense",
        "-name",
        str(tmp_path / "x"),
        str(tmp_path / "missing.ms"),
    ]

    with pytest.raises(WSCleanError) as raised:
        run_in_worker(
            engine,
            container,
            arguments,
            workdir=tmp_path,
            on_line=lambda line: None,
        )

    error = raised.value
    assert error.exit_code == 255
    assert error.arguments == arguments
    assert any("exception" in line.lower() for line in error.output_tail)
    assert "WSClean failed" in str(error) and "exit code: 255" in str(error)


@pytest.mark.usefixtures("cleanup")
def test_a_command_the_image_lacks_is_a_runtime_error_not_a_wsclean_one(
    engine: EngineClient,
    identity: RunIdentity,
    settings: WorkerSettings,
    tmp_path: Path,
) -> None:
    container, _ = ensure_worker(engine, identity, settings)

    with pytest.raises(WSCleanError, match="could not execute") as raised:
        run_in_worker(
            engine,
            container,
            ["no-such-program"],
            workdir=tmp_path,
            on_line=lambda line: None,
        )
    assert raised.value.exit_code in (126, 127)


@pytest.mark.usefixtures("cleanup")
def test_an_option_the_image_lacks_is_named_with_the_image(
    engine: EngineClient, identity: RunIdentity, settings: WorkerSettings
) -> None:
    container, _ = ensure_worker(engine, identity, settings)

    require_options(engine, container, settings.image, ["wsclean", "-draw-model"])
    with pytest.raises(WorkerImageError) as raised:
        require_options(
            engine, container, settings.image, ["wsclean", "-no-such-option"]
        )
    assert "-no-such-option" in str(raised.value)
    assert settings.image in str(raised.value)


def test_removing_the_worker_leaves_no_container(
    engine: EngineClient, identity: RunIdentity, settings: WorkerSettings
) -> None:
    ensure_worker(engine, identity, settings)

    assert remove_worker(engine, identity, settings)
    assert find_worker(engine, identity) is None
    assert not remove_worker(engine, identity, settings)


@pytest.mark.usefixtures("cleanup")
def test_an_exited_worker_is_replaced(
    engine: EngineClient, identity: RunIdentity, settings: WorkerSettings
) -> None:
    first, _ = ensure_worker(engine, identity, settings)
    first.stop(timeout=5)

    second, started = ensure_worker(engine, identity, settings)

    assert started
    assert second.id != first.id
    second.reload()
    assert second.status == "running"


def test_the_operator_commands_list_and_remove_a_run_worker(
    engine: EngineClient,
    identity: RunIdentity,
    settings: WorkerSettings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from contimg.cli import main

    ensure_worker(engine, identity, settings)

    runtime = ["--runtime", engine.runtime]
    assert main([*runtime, "workers"]) == 0
    listing = capsys.readouterr().out
    assert identity.run_id in listing and identity.worker_name in listing

    assert main([*runtime, "remove", identity.run_id, "--stop-timeout", "5"]) == 0
    assert find_worker(engine, identity) is None
    assert main([*runtime, "remove", identity.run_id]) == 1


def start_in_process(run_id: str, runtime: str, root: str) -> str:
    """Attach to or start a run's worker from a separate process; its id."""
    client = connect(60, runtime)
    settings = WorkerSettings(
        image=IMAGE, roots=(Path(root),), stop_timeout_s=5, runtime=runtime
    )
    container, _ = ensure_worker(client, RunIdentity.current(run_id), settings)
    return str(container.id)


def test_sixteen_processes_of_two_runs_end_with_one_worker_per_run(
    engine: EngineClient, settings: WorkerSettings, tmp_path: Path
) -> None:
    import multiprocessing

    runs = [new_run_id(), new_run_id()]
    jobs = [(runs[i % 2], engine.runtime, str(tmp_path)) for i in range(16)]
    try:
        with multiprocessing.get_context("spawn").Pool(16) as pool:
            ids = pool.starmap(start_in_process, jobs)

        for run in runs:
            listed = engine.containers.list(
                all=True, filters={"label": f"org.contimg.run={run}"}
            )
            from_run = {i for i, job in zip(ids, jobs, strict=True) if job[0] == run}
            assert len(listed) == 1
            assert from_run == {listed[0].id}
    finally:
        for run in runs:
            remove_worker(engine, RunIdentity.current(run), settings)


def test_two_runs_at_once_get_a_worker_each(
    engine: EngineClient, settings: WorkerSettings
) -> None:
    first, second = RunIdentity.current(new_run_id()), RunIdentity.current(new_run_id())
    try:
        one, _ = ensure_worker(engine, first, settings)
        other, _ = ensure_worker(engine, second, settings)
        remove_worker(engine, first, settings)

        assert one.id != other.id
        other.reload()
        assert other.status == "running"
    finally:
        remove_worker(engine, second, settings)


def test_a_foreign_container_with_the_runs_name_is_left_alone(
    engine: EngineClient,
    identity: RunIdentity,
    settings: WorkerSettings,
) -> None:
    squatter = engine.containers.run(
        settings.image, ["sleep", "300"], name=identity.worker_name, detach=True,
        network_mode="none", auto_remove=True,
    )  # fmt: skip
    try:
        with pytest.raises(WorkerError, match="is not this run's worker"):
            ensure_worker(engine, identity, settings)
        assert not remove_worker(engine, identity, settings)
        squatter.reload()
        assert squatter.status == "running"
    finally:
        squatter.remove(force=True)


@pytest.mark.usefixtures("cleanup")
def test_a_worker_that_idled_out_after_a_job_attached_is_started_again_for_its_command(
    engine: EngineClient, identity: RunIdentity, tmp_path: Path
) -> None:
    """A job can attach to a worker in the last second of its idle time (a slow
    job start on a loaded node); its command then gets a fresh worker."""
    settings = WorkerSettings(
        image=IMAGE,
        roots=(tmp_path,),
        stop_timeout_s=5,
        runtime=engine.runtime,
        idle_timeout_s=2,
    )
    runtime = DockerApiRuntime(settings)
    runtime.ensure_worker(identity)
    attached = runtime.worker(identity)
    waited = time.monotonic()
    while find_worker(engine, identity) is not None:
        assert time.monotonic() - waited < 60, "the worker did not idle out"
        time.sleep(0.2)

    lines: list[str] = []
    runtime.run(identity, ["echo", "ran"], workdir=tmp_path, on_line=lines.append)

    assert lines == ["ran"]
    again = find_worker(engine, identity)
    assert again is not None and again.id != attached.id


def test_a_misspelt_image_is_named_with_the_way_to_check_it(
    engine: EngineClient, identity: RunIdentity, tmp_path: Path
) -> None:
    settings = WorkerSettings(
        image="contimg/wsclen:3.7", roots=(tmp_path,), runtime=engine.runtime
    )

    with pytest.raises(WorkerImageError) as refused:
        ensure_worker(engine, identity, settings)

    message = str(refused.value)
    assert "contimg/wsclen:3.7 is not in the local" in message
    assert f"`{engine.runtime} images`" in message
    assert find_worker(engine, identity) is None


@pytest.mark.usefixtures("cleanup")
def test_the_operator_commands_take_the_runtime_from_the_config_here(
    engine: EngineClient,
    identity: RunIdentity,
    settings: WorkerSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`contimg workers` in a directory whose config chooses the runtime."""
    from contimg.cli import main

    ensure_worker(engine, identity, settings)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(
        f"worker:\n  runtime: {engine.runtime}\n"
    )
    monkeypatch.chdir(tmp_path)

    assert main(["workers"]) == 0
    assert identity.worker_name in capsys.readouterr().out
