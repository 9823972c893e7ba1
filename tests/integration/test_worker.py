"""The worker container against the real Docker engine and the real image."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import pytest

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

pytestmark = pytest.mark.integration


@pytest.fixture
def identity() -> RunIdentity:
    return RunIdentity.current(new_run_id())


@pytest.fixture
def settings(worker_image: str, tmp_path: Path) -> WorkerSettings:
    return WorkerSettings(image=worker_image, roots=(tmp_path,), stop_timeout_s=5)


@pytest.fixture
def cleanup(
    docker_client: docker.DockerClient, identity: RunIdentity, settings: WorkerSettings
) -> Iterator[None]:
    yield
    remove_worker(docker_client, identity, settings)


@pytest.mark.usefixtures("cleanup")
def test_a_started_worker_is_isolated_labelled_and_runs_as_the_user(
    docker_client: docker.DockerClient,
    identity: RunIdentity,
    settings: WorkerSettings,
    tmp_path: Path,
) -> None:
    container, started = ensure_worker(docker_client, identity, settings)

    host_config = container.attrs["HostConfig"]
    assert started
    assert container.name == identity.worker_name
    assert container.labels["org.contimg.run"] == identity.run_id
    assert container.labels["org.contimg.owner"] == str(os.getuid())
    assert container.labels["org.contimg.host"] == identity.host
    assert host_config["NetworkMode"] == "none"
    assert host_config["Init"] is True
    assert host_config["ReadonlyRootfs"] is True
    assert host_config["CapDrop"] == ["ALL"]
    assert container.attrs["Config"]["User"] == f"{os.getuid()}:{os.getgid()}"
    mounts = {(m["Source"], m["Destination"]) for m in container.attrs["Mounts"]}
    assert (str(tmp_path), str(tmp_path)) in mounts


@pytest.mark.usefixtures("cleanup")
def test_a_second_job_attaches_to_the_running_worker(
    docker_client: docker.DockerClient, identity: RunIdentity, settings: WorkerSettings
) -> None:
    first, started_first = ensure_worker(docker_client, identity, settings)
    second, started_second = ensure_worker(docker_client, identity, settings)

    assert (started_first, started_second) == (True, False)
    assert first.id == second.id


@pytest.mark.usefixtures("cleanup")
def test_racing_lazy_starts_end_in_one_worker(
    docker_client: docker.DockerClient, identity: RunIdentity, settings: WorkerSettings
) -> None:
    def start(_: int) -> str:
        container, _started = ensure_worker(docker_client, identity, settings)
        return str(container.id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(start, range(8)))

    listed = docker_client.containers.list(
        all=True, filters={"label": f"org.contimg.run={identity.run_id}"}
    )
    assert len(ids) == 1
    assert [c.id for c in listed] == list(ids)


@pytest.mark.usefixtures("cleanup")
def test_exec_streams_lines_and_writes_as_the_user(
    docker_client: docker.DockerClient,
    identity: RunIdentity,
    settings: WorkerSettings,
    tmp_path: Path,
) -> None:
    container, _ = ensure_worker(docker_client, identity, settings)
    lines: list[str] = []

    run_in_worker(
        docker_client,
        container,
        ["touch", str(tmp_path / "made in the worker")],
        workdir=tmp_path,
        on_line=lines.append,
    )
    run_in_worker(
        docker_client,
        container,
        ["wsclean", "-version"],
        workdir=tmp_path,
        on_line=lines.append,
    )

    assert any(line.startswith("WSClean version 3.7") for line in lines)
    made = tmp_path / "made in the worker"
    assert made.stat().st_uid == os.getuid()


@pytest.mark.usefixtures("cleanup")
def test_exec_measures_cpu_and_peak_memory_inside_the_worker(
    docker_client: docker.DockerClient,
    identity: RunIdentity,
    settings: WorkerSettings,
    tmp_path: Path,
) -> None:
    container, _ = ensure_worker(docker_client, identity, settings)
    lines: list[str] = []
    # Holds about 200 MB while it burns 1.2 s of CPU (perl is in the image); the
    # Python client of the exec uses neither.
    hog = (
        "my $b = 'x' x (200 << 20); "
        "while ((times)[0] < 1.2) { my $s = 0; $s += $_ for 1..10000 } print 'held';"
    )

    usage = run_in_worker(
        docker_client, container, ["perl", "-e", hog], workdir=tmp_path,
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
    docker_client: docker.DockerClient,
    identity: RunIdentity,
    settings: WorkerSettings,
    tmp_path: Path,
) -> None:
    container, _ = ensure_worker(docker_client, identity, settings)
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
            docker_client,
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
    docker_client: docker.DockerClient,
    identity: RunIdentity,
    settings: WorkerSettings,
    tmp_path: Path,
) -> None:
    container, _ = ensure_worker(docker_client, identity, settings)

    with pytest.raises(WSCleanError, match="could not execute") as raised:
        run_in_worker(
            docker_client,
            container,
            ["no-such-program"],
            workdir=tmp_path,
            on_line=lambda line: None,
        )
    assert raised.value.exit_code in (126, 127)


@pytest.mark.usefixtures("cleanup")
def test_an_option_the_image_lacks_is_named_with_the_image(
    docker_client: docker.DockerClient, identity: RunIdentity, settings: WorkerSettings
) -> None:
    container, _ = ensure_worker(docker_client, identity, settings)

    require_options(
        docker_client, container, settings.image, ["wsclean", "-draw-model"]
    )
    with pytest.raises(WorkerImageError) as raised:
        require_options(
            docker_client, container, settings.image, ["wsclean", "-no-such-option"]
        )
    assert "-no-such-option" in str(raised.value)
    assert settings.image in str(raised.value)


def test_removing_the_worker_leaves_no_container(
    docker_client: docker.DockerClient, identity: RunIdentity, settings: WorkerSettings
) -> None:
    ensure_worker(docker_client, identity, settings)

    assert remove_worker(docker_client, identity, settings)
    assert find_worker(docker_client, identity) is None
    assert not remove_worker(docker_client, identity, settings)


@pytest.mark.usefixtures("cleanup")
def test_an_exited_worker_is_replaced(
    docker_client: docker.DockerClient, identity: RunIdentity, settings: WorkerSettings
) -> None:
    first, _ = ensure_worker(docker_client, identity, settings)
    first.stop(timeout=5)

    second, started = ensure_worker(docker_client, identity, settings)

    assert started
    assert second.id != first.id
    second.reload()
    assert second.status == "running"


def test_the_operator_commands_list_and_remove_a_run_worker(
    docker_client: docker.DockerClient,
    identity: RunIdentity,
    settings: WorkerSettings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from contimg.cli import main

    ensure_worker(docker_client, identity, settings)

    assert main(["workers"]) == 0
    listing = capsys.readouterr().out
    assert identity.run_id in listing and identity.worker_name in listing

    assert main(["remove", identity.run_id, "--stop-timeout", "5"]) == 0
    assert find_worker(docker_client, identity) is None
    assert main(["remove", identity.run_id]) == 1


def start_in_process(run_id: str, image: str, root: str) -> str:
    """Attach to or start a run's worker from a separate process; its id."""
    import docker as engine

    client = engine.from_env(timeout=60)
    settings = WorkerSettings(image=image, roots=(Path(root),), stop_timeout_s=5)
    container, _ = ensure_worker(client, RunIdentity.current(run_id), settings)
    return str(container.id)


def test_sixteen_processes_of_two_runs_end_with_one_worker_per_run(
    docker_client: docker.DockerClient, worker_image: str, tmp_path: Path
) -> None:
    import multiprocessing

    runs = [new_run_id(), new_run_id()]
    settings = WorkerSettings(image=worker_image, roots=(tmp_path,), stop_timeout_s=5)
    jobs = [(runs[i % 2], worker_image, str(tmp_path)) for i in range(16)]
    try:
        with multiprocessing.get_context("spawn").Pool(16) as pool:
            ids = pool.starmap(start_in_process, jobs)

        for run in runs:
            listed = docker_client.containers.list(
                all=True, filters={"label": f"org.contimg.run={run}"}
            )
            from_run = {i for i, job in zip(ids, jobs, strict=True) if job[0] == run}
            assert len(listed) == 1
            assert from_run == {listed[0].id}
    finally:
        for run in runs:
            remove_worker(docker_client, RunIdentity.current(run), settings)


def test_two_runs_at_once_get_a_worker_each(
    docker_client: docker.DockerClient, worker_image: str, tmp_path: Path
) -> None:
    settings = WorkerSettings(image=worker_image, roots=(tmp_path,), stop_timeout_s=5)
    first, second = RunIdentity.current(new_run_id()), RunIdentity.current(new_run_id())
    try:
        one, _ = ensure_worker(docker_client, first, settings)
        other, _ = ensure_worker(docker_client, second, settings)
        remove_worker(docker_client, first, settings)

        assert one.id != other.id
        other.reload()
        assert other.status == "running"
    finally:
        remove_worker(docker_client, second, settings)


def test_a_foreign_container_with_the_runs_name_is_left_alone(
    docker_client: docker.DockerClient,
    identity: RunIdentity,
    settings: WorkerSettings,
) -> None:
    squatter = docker_client.containers.run(
        settings.image, ["sleep", "300"], name=identity.worker_name, detach=True,
        network_mode="none", auto_remove=True,
    )  # fmt: skip
    try:
        with pytest.raises(WorkerError, match="is not this run's worker"):
            ensure_worker(docker_client, identity, settings)
        assert not remove_worker(docker_client, identity, settings)
        squatter.reload()
        assert squatter.status == "running"
    finally:
        squatter.remove(force=True)
