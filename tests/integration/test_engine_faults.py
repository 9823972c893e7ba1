"""Faults that cannot be made for real: an engine that accepts and never answers.

A fake endpoint (a Unix socket that accepts connections and says nothing)
stands in for a hung Docker daemon. Everything else here is real: the
handlers' code, and real workers for the reaping tests.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contimg.engine import EngineClient
from contimg.errors import WorkerError
from contimg.lifecycle import start_run_worker, stop_run_worker
from contimg.reaping import reap_dead_workers
from contimg.run import RUN_ID_VARIABLE, RunIdentity, new_run_id
from contimg.worker import WorkerSettings, ensure_worker, find_worker, remove_worker
from tests.conftest import IMAGE, RUNTIMES


@pytest.fixture
def silent_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """DOCKER_HOST and CONTAINER_HOST (Podman's) at a socket that never answers."""
    path = tmp_path / "silent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    monkeypatch.setenv("CONTAINER_HOST", f"unix://{path}")
    monkeypatch.setenv(RUN_ID_VARIABLE, new_run_id())
    yield str(path)
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_teardown_against_a_hung_engine_returns_within_its_bound(
    silent_engine: str, caplog: pytest.LogCaptureFixture, runtime: str
) -> None:
    settings = WorkerSettings(
        image=IMAGE, roots=(), engine_timeout_s=60, stop_timeout_s=2, runtime=runtime
    )

    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="contimg"):
        gone = stop_run_worker(settings)
    elapsed = time.monotonic() - started

    name = RunIdentity.current(os.environ[RUN_ID_VARIABLE]).worker_name
    assert not gone
    assert elapsed < 3
    assert f"{runtime} rm -f {name}" in caplog.text
    assert "did not answer within 2 s" in caplog.text


@pytest.mark.parametrize(
    ("runtime", "message"),
    [("docker", "cannot be reached"), ("podman", "API service does not answer")],
)
def test_start_against_a_hung_engine_fails_after_the_engine_timeout(
    silent_engine: str, runtime: str, message: str
) -> None:
    settings = WorkerSettings(
        image=IMAGE, roots=(), engine_timeout_s=2, runtime=runtime
    )

    started = time.monotonic()
    with pytest.raises(WorkerError, match=message):
        start_run_worker(settings, [["wsclean"]], Path("/nonexistent/image.lock"))

    assert time.monotonic() - started < 6


@pytest.mark.integration
def test_reaping_touches_only_this_users_workers_of_dead_runs(
    engine: EngineClient, tmp_path: Path
) -> None:
    settings = WorkerSettings(
        image=IMAGE, roots=(tmp_path,), stop_timeout_s=5, runtime=engine.runtime
    )
    current = RunIdentity.current(new_run_id())
    # A dead run of ours: an owner process id that no process has.
    dead = RunIdentity(
        **{
            **vars(RunIdentity.current(new_run_id())),
            "owner_pid": 2**22 + 17,
            "owner_start": "1",
        }
    )
    # A run of another user, equally dead: not ours to remove.
    foreign = RunIdentity(**{**vars(dead), "run_id": new_run_id(), "uid": 54321})
    # A live run of ours (this very process owns it).
    alive = RunIdentity.current(new_run_id())
    for identity in (dead, foreign, alive):
        ensure_worker(engine, identity, settings)
    lookalike = engine.containers.run(
        IMAGE, ["sleep", "300"], name=f"contimg-{new_run_id()}-0",
        detach=True, network_mode="none", auto_remove=True,
    )  # fmt: skip

    try:
        reaped = reap_dead_workers(engine, current, settings)

        assert reaped == [dead.worker_name]
        assert find_worker(engine, dead) is None
        assert find_worker(engine, foreign) is not None
        assert find_worker(engine, alive) is not None
        lookalike.reload()
        assert lookalike.status == "running"
    finally:
        lookalike.remove(force=True)
        for identity in (foreign, alive):
            container = find_worker(engine, identity)
            if container is not None:
                container.remove(force=True)
    remove_worker(engine, current, settings)
