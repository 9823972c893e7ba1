"""How runs end: dry runs, refused images, failing steps, and the real VLA set.

Each test runs the real snakemake against the real engine and image and looks
at the end state: exit status, messages, files, and containers left behind.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import docker
import pytest
import yaml

from tests.integration.pipeline import (
    REPOSITORY,
    WorkerWatch,
    base_config,
    merged,
    snakemake,
    tail,
    workers,
    write_workdir,
)
from tests.test_paths import staging_of_an_ended_job

pytestmark = pytest.mark.integration

VLA_ARCHIVE = REPOSITORY / "tests" / "data" / "vla_day2_TDEM0003.ms.tgz"
VLA_SET = "data/day2_TDEM0003_10s_norx_1src_1spw.ms"
VLA_CHANGES = {
    "roots": {"inputs": ["data"]},
    "wsclean": {"threads": 2, "mem_mb": 2000},
    "sky_model": {
        "catalogue": str(REPOSITORY / ".test" / "vla" / "catalogue.csv"),
        "radius_deg": 0.05,
        "min_flux_jy": 0.0,
        "spectral_index": 0.0,
        "reference_frequency_hz": 36308479452.0,
    },
    "model_image": {"size": 256, "scale_arcsec": 0.4, "channels_out": 1},
    "clean": {"size": 256, "scale_arcsec": 0.4, "niter": 1000, "auto_threshold": 3.0},
}
TEST_USER = "contimg-test"
CONTIMG = str(Path(os.sys.executable).with_name("contimg"))


def vla_workdir(workdir: Path, **changes: object) -> Path:
    """A working directory with the real VLA Measurement Set unpacked into data/."""
    (workdir / "data").mkdir(parents=True)
    with tarfile.open(VLA_ARCHIVE) as archive:
        archive.extractall(workdir / "data")  # our own archive, from tests/data
    config = merged(merged(base_config(), VLA_CHANGES), changes)
    write_workdir(workdir, config, {"vla": VLA_SET})
    return workdir


def test_a_dry_run_plans_without_any_docker_engine(tmp_path: Path) -> None:
    workdir = vla_workdir(tmp_path / "run")

    result = snakemake(
        workdir, "-n", env={"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"}
    )

    assert result.returncode == 0, tail(result)
    assert "clean" in result.stdout and "draw_model" in result.stdout
    assert not (workdir / "results").exists()


def list_a_plain_file(workdir: Path) -> None:
    (workdir / "data" / "plain.ms").write_text("not a Measurement Set")
    write_workdir(workdir, yaml.safe_load((workdir / "config.yaml").read_text()),
                  {"vla": "data/plain.ms"})  # fmt: skip


@pytest.mark.parametrize(
    ("spoil", "changes", "message"),
    [
        pytest.param(
            list_a_plain_file, {}, "which is a file, not a Measurement Set", id="file"
        ),
        pytest.param(
            lambda workdir: (workdir / "elsewhere").mkdir(),
            {"roots": {"inputs": ["elsewhere"]}},
            "is not under any directory the worker mounts",
            id="outside-roots",
        ),
        pytest.param(
            lambda workdir: None,
            {"clean": {"extra": ["-name", "other"]}},
            "clean.extra repeats -name",
            id="extra-repeats",
        ),
    ],
)
def test_a_dry_run_refuses_what_the_run_would_refuse_without_an_engine(
    tmp_path: Path,
    spoil: Callable[[Path], None],
    changes: dict[str, object],
    message: str,
) -> None:
    workdir = vla_workdir(tmp_path / "run", **changes)
    spoil(workdir)

    result = snakemake(
        workdir, "-n", env={"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"}
    )

    assert result.returncode != 0
    assert message in result.stdout + result.stderr, tail(result)
    assert not (workdir / "results").exists()


def test_the_example_plans_from_the_repository_root() -> None:
    result = subprocess.run(
        [str(Path(os.sys.executable).with_name("snakemake")), "-n", "--quiet"],
        cwd=REPOSITORY,
        env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_an_image_without_an_option_the_config_uses_stops_the_run_at_start(
    docker_client: docker.DockerClient, worker_image: str, tmp_path: Path
) -> None:
    workdir = vla_workdir(tmp_path / "run", clean={"extra": ["-no-such-option"]})

    with WorkerWatch(docker_client, workdir) as watch:
        result = snakemake(workdir, "--cores", "2")

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "-no-such-option" in output and worker_image in output
    assert not (workdir / "results" / "vla" / "sky_model.txt").exists()
    assert not set(workers(docker_client)) & watch.names


def test_a_failing_wsclean_step_leaves_no_product_and_no_worker(
    docker_client: docker.DockerClient, worker_image: str, tmp_path: Path
) -> None:
    workdir = vla_workdir(tmp_path / "run", clean={"weight": ["nonsense"]})

    with WorkerWatch(docker_client, workdir) as watch:
        result = snakemake(workdir, "--cores", "2")

    log = (workdir / "logs" / "vla" / "clean.log").read_text()
    assert result.returncode != 0
    assert "Unknown weighting mode" in log
    assert "exit code: 255" in log and "'-weight', 'nonsense'" in log
    assert not list((workdir / "results" / "vla" / "clean").glob("*.fits"))
    assert (workdir / "results" / "vla" / "predict.json").is_file()
    assert not list((workdir / "scratch" / "staging").iterdir())
    assert len(watch.names) == 1
    assert not set(workers(docker_client)) & watch.names


def test_a_missing_column_is_refused_before_any_step_runs(
    docker_client: docker.DockerClient, worker_image: str, tmp_path: Path
) -> None:
    workdir = vla_workdir(tmp_path / "run", clean={"data_column": "CORRECTED_DATA"})

    with WorkerWatch(docker_client, workdir) as watch:
        result = snakemake(workdir, "--cores", "2")

    assert result.returncode != 0
    assert "has no column CORRECTED_DATA" in result.stdout + result.stderr
    assert not (workdir / "results" / "vla").exists()
    assert watch.names == set()


def test_a_set_outside_the_mounted_roots_is_refused_by_name(
    docker_client: docker.DockerClient, worker_image: str, tmp_path: Path
) -> None:
    workdir = vla_workdir(tmp_path / "run", roots={"inputs": ["elsewhere"]})
    (workdir / "elsewhere").mkdir()

    with WorkerWatch(docker_client, workdir) as watch:
        result = snakemake(workdir, "--cores", "2")

    said = result.stdout + result.stderr
    assert result.returncode != 0
    assert "is not under any directory the worker mounts" in said
    assert str(workdir / "elsewhere") in said
    assert watch.names == set()  # refused before the worker starts


def run_user() -> tuple[int, int]:
    """Who runs the ownership test: this user, or a plain user when this is root."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    try:
        entry = pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", TEST_USER], check=True)
        entry = pwd.getpwnam(TEST_USER)
    subprocess.run(["usermod", "-aG", "docker", TEST_USER], check=True)
    return entry.pw_uid, entry.pw_gid


def test_the_real_vla_set_images_and_every_file_belongs_to_the_user(
    docker_client: docker.DockerClient, worker_image: str
) -> None:
    uid, gid = run_user()
    # Not under pytest's temporary folder, which only its owner may enter.
    base = Path(tempfile.mkdtemp(prefix="contimg-owner-"))
    try:
        workdir = vla_workdir(base / "run")
        (base / "home").mkdir()
        for path in [base, *base.rglob("*")]:
            os.chown(path, uid, gid, follow_symlinks=False)
        name = pwd.getpwuid(uid).pw_name
        env = {"HOME": str(base / "home"), "USER": name, "LOGNAME": name}

        result = snakemake(workdir, "--cores", "2", env=env, user=(uid, gid))

        assert result.returncode == 0, tail(result)
        clean = workdir / "results" / "vla" / "clean"
        for product in ("image", "residual", "model", "psf"):
            assert (clean / f"vla-{product}.fits").is_file()
        foreign = [str(p) for p in workdir.rglob("*") if p.lstat().st_uid != uid]
        assert foreign == []
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("inputs", [["data", "dtaa"], ["dtaa"]])
def test_a_mistyped_input_root_is_refused_not_created(
    docker_client: docker.DockerClient,
    worker_image: str,
    tmp_path: Path,
    inputs: list[str],
) -> None:
    """Also when it is the only one, and the set lies under the intended root."""
    workdir = vla_workdir(tmp_path / "run", roots={"inputs": inputs})

    result = snakemake(workdir, "--cores", "2")

    said = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{workdir / 'dtaa'} do not exist" in said, tail(result)
    assert "is not under any directory" not in said
    assert not (workdir / "dtaa").exists()


def test_provenance_records_say_what_made_each_product_and_remake_it(
    docker_client: docker.DockerClient, worker_image: str, tmp_path: Path
) -> None:
    import json

    import numpy as np
    from astropy.io import fits
    from casacore.tables import table as casacore_table

    from contimg.provenance import find_record, reproduction

    workdir = vla_workdir(tmp_path / "run")
    result = snakemake(workdir, "--cores", "2")
    assert result.returncode == 0, tail(result)
    results = workdir / "results" / "vla"
    image = results / "clean" / "vla-image.fits"

    drawn = json.loads((results / "model" / "vla.provenance.json").read_text())
    predicted = json.loads((results / "predict.json").read_text())
    cleaned = find_record(image)
    assert [drawn["step"], predicted["step"], cleaned["step"]] == [
        "draw_model", "predict", "clean",
    ]  # fmt: skip
    image_id = docker_client.images.get(worker_image).id
    for record in (drawn, predicted, cleaned):
        assert record["image_id"] == image_id
        assert record["wsclean_version"] == "3.7"
        assert [command[0] for command in record["commands"]] == ["wsclean"]
    assert drawn["inputs"][0]["sha256"]  # the sky model, checksummed
    assert cleaned["options"]["niter"] == 1000
    assert str(image) in cleaned["outputs"]

    # predict: its script, as `contimg reproduce` prints it, stages the model
    # images, rewrites MODEL_DATA as the step did, and leaves no staging behind.
    staging = workdir / "scratch" / "staging"
    assert not list(staging.iterdir())
    measurement_set = workdir / VLA_SET
    with casacore_table(str(measurement_set), readonly=False, ack=False) as main:
        data_before = main.getcol("DATA")
        model_before = main.getcol("MODEL_DATA")
        main.putcol("MODEL_DATA", np.zeros_like(model_before))
    assert np.abs(model_before).max() > 0
    (staged,) = predicted["staged"]  # one channel group: NAME-model.fits
    assert staged["source"] == predicted["inputs"][0]["path"]
    assert staged["staged_as"] == f"{predicted['staging']}/model-model.fits"
    printed = subprocess.run(
        [CONTIMG, "reproduce", str(results / "predict.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert printed.stdout.strip() == reproduction(predicted)
    assert "cp -- " in printed.stdout
    script = tmp_path / "reproduce predict.sh"
    script.write_text(printed.stdout)
    repredicted = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, check=False
    )
    assert repredicted.returncode == 0, repredicted.stderr[-2000:]
    with casacore_table(str(measurement_set), ack=False) as main:
        assert np.array_equal(main.getcol("DATA"), data_before)
        model_after = main.getcol("MODEL_DATA")
    scale = np.abs(model_before).max()
    assert np.allclose(model_after, model_before, rtol=0, atol=1e-6 * scale)
    assert not list(staging.iterdir())

    remade = subprocess.run(
        ["bash", "-c", reproduction(cleaned)], capture_output=True, text=True
    )
    assert remade.returncode == 0, remade.stderr[-2000:]
    (arguments,) = cleaned["commands"]
    name = arguments[arguments.index("-name") + 1]
    again = fits.getdata(f"{name}-image.fits")
    original = fits.getdata(image)
    assert np.allclose(again, original, rtol=0, atol=1e-5 * np.abs(original).max())
    # The remade products stay in the staging folder, WSClean's temp-dir does not.
    assert list(staging.iterdir()) == [Path(name).parent]
    assert not (Path(name).parent / "tmp").exists()


def planned_rules(dry_run_output: str) -> set[str]:
    """The rules a dry run plans, inside group jobs (indented) or not."""
    return set(re.findall(r"^\s*(?:local)?rule (\w+):", dry_run_output, re.MULTILINE))


def test_changing_niter_plans_a_rerun_of_clean_only(
    docker_client: docker.DockerClient, worker_image: str, tmp_path: Path
) -> None:
    import yaml

    workdir = vla_workdir(tmp_path / "run")
    assert snakemake(workdir, "--cores", "2").returncode == 0
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["clean"]["niter"] = 500
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))

    plan = snakemake(workdir, "-n", env={"DOCKER_HOST": "unix:///nonexistent.sock"})

    assert plan.returncode == 0, tail(plan)
    # The summary (pictures, source fluxes) follows clean; no other step reruns.
    planned = planned_rules(plan.stdout)
    assert planned == {"clean", "summary", "all"}, plan.stdout[-3000:]


def test_a_rebuilt_image_is_refused_until_locked_then_reruns_every_wsclean_step(
    docker_client: docker.DockerClient, worker_image: str, tmp_path: Path
) -> None:
    import io
    import secrets

    from contimg.cli import main as contimg

    tag = f"contimg/wsclean:rebuilt-{secrets.token_hex(3)}"
    docker_client.images.get(worker_image).tag(tag)
    try:
        workdir = vla_workdir(tmp_path / "run", worker={"image": tag})
        assert snakemake(workdir, "--cores", "2").returncode == 0
        # Rebuild: the same tag now names different content.
        rebuilt, _ = docker_client.images.build(
            fileobj=io.BytesIO(
                f"FROM {worker_image}\nLABEL org.contimg.test={tag}\n".encode()
            ),
            tag=tag,
            rm=True,
        )

        # Until it is locked, a run that has work refuses the new content.
        refused = snakemake(workdir, "--cores", "2", "--forcerun", "clean")
        assert refused.returncode != 0
        assert f"worker image {tag} is now {rebuilt.id}" in refused.stderr, tail(
            refused
        )
        assert "contimg lock-image" in refused.stderr

        locked = contimg(
            ["lock-image", "--image", tag, "--results", str(workdir / "results")]
        )
        plan = snakemake(
            workdir, "-n", env={"DOCKER_HOST": "unix:///nonexistent.sock"}
        )
    finally:
        docker_client.images.remove(tag, force=True)

    assert locked == 0
    assert plan.returncode == 0, tail(plan)
    assert planned_rules(plan.stdout) == {
        "draw_model", "predict", "clean", "summary", "all",
    }, plan.stdout[-3000:]  # fmt: skip


def test_the_next_runs_start_removes_what_a_killed_job_left_in_scratch(
    docker_client: docker.DockerClient, worker_image: str, tmp_path: Path
) -> None:
    """A job killed outright leaves its staging directory (WSClean's temporary
    files); the next run on this host removes it at its start."""
    workdir = vla_workdir(tmp_path / "run")
    left = staging_of_an_ended_job(workdir / "scratch", "clean-vla")
    assert left.is_dir()

    result = snakemake(workdir, "--cores", "2", "results/vla/sky_model.txt")

    assert result.returncode == 0, tail(result)
    assert not left.exists()
    assert f"removed {left}, left by a job that was killed" in result.stderr
