"""The reproduction scripts of provenance records, run by bash against a fake
`docker` that shows what the container would have seen (no engine needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from contimg.provenance import Execution, reproduction, write_record

HOSTILE = 'it\'s a "base" $HOME; `x`\nline two'
"""A folder name with spaces, quotes, a dollar, backquotes and a line break."""

FAKE_DOCKER = f"""#!{sys.executable}
import json, os, sys
from pathlib import Path

arguments = sys.argv[1:]
workdir = Path(arguments[arguments.index("-w") + 1])
seen = {{
    item.name: item.read_text() for item in sorted(workdir.iterdir()) if item.is_file()
}}
Path(os.environ["FAKE_DOCKER_LOG"]).write_text(
    json.dumps({{"arguments": arguments, "cwd_files": seen}})
)
name = arguments[arguments.index("-name") + 1]
Path(name + "-image.fits").write_text("remade")
sys.exit(int(os.environ.get("FAKE_DOCKER_EXIT", "0")))
"""


def execution(commands: list[list[str]], staging: Path) -> Execution:
    return Execution(
        commands=tuple(tuple(arguments) for arguments in commands),
        image="contimg/wsclean:3.7",
        image_id="sha256:" + "ab" * 32,
        wsclean_version="3.7",
        worker="contimg-worker-x",
        run_id="run-1",
        workdir="/somewhere",
        started="2025-01-01T00:00:00+00:00",
        finished="2025-01-01T00:01:00+00:00",
        staging=str(staging),
    )


@pytest.fixture
def base(tmp_path: Path) -> Path:
    base = tmp_path / HOSTILE
    for folder in ("results/model", "data/set.ms", "scratch/staging", "bin"):
        (base / folder).mkdir(parents=True)
    (base / "data/set.ms/table.dat").write_text("visibilities")
    fake = base / "bin" / "docker"
    fake.write_text(FAKE_DOCKER)
    fake.chmod(0o755)
    return base


def predict_record(base: Path, channels: int = 2) -> dict[str, object]:
    """A predict record as steps.predict writes it, for `channels` model images."""
    staging = base / "scratch/staging/predict-set-0123456789ab"
    name = staging / "model"
    images = [base / f"results/model/set-{g:04d}-model.fits" for g in range(channels)]
    for group, image in enumerate(images):
        image.write_text(f"model image {group}")
    staged = [(image, staging / f"model-{g:04d}-model.fits") for g, image in
              enumerate(images)]  # fmt: skip
    command = [
        "wsclean", "-j", "2", "-temp-dir", str(staging / "tmp"), "-predict",
        "-name", str(name), "-channels-out", str(channels), str(base / "data/set.ms"),
    ]  # fmt: skip
    record = base / "results/predict.json"
    write_record(
        record,
        "predict",
        execution([command], staging),
        {"channels_out": channels},
        [*images, base / "data/set.ms"],
        [base / "data/set.ms"],
        staged=staged,
    )
    loaded: dict[str, object] = json.loads(record.read_text())
    return loaded


def run(script: str, base: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a script as a user would: saved to a file, then `bash FILE`."""
    path = base / "reproduce.sh"
    path.write_text(script + "\n")
    return subprocess.run(
        ["bash", str(path)],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PATH": f"{base / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "FAKE_DOCKER_LOG": str(base / "docker.json"),
            **env,
        },
        check=False,
    )


def test_predict_is_reproduced_with_its_model_images_staged_then_cleaned_up(
    base: Path,
) -> None:
    record = predict_record(base)

    result = run(reproduction(record), base)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no comment's path ran as a command
    seen = json.loads((base / "docker.json").read_text())
    assert seen["cwd_files"] == {
        "model-0000-model.fits": "model image 0",
        "model-0001-model.fits": "model image 1",
    }
    (command,) = record["commands"]  # type: ignore[misc]
    assert seen["arguments"][-len(command) :] == command
    assert seen["arguments"][:4] == ["run", "--rm", "--network", "none"]
    assert not list((base / "scratch/staging").iterdir())


def test_a_failing_predict_reproduction_also_removes_its_staging(
    base: Path,
) -> None:
    result = run(reproduction(predict_record(base)), base, FAKE_DOCKER_EXIT="255")

    assert result.returncode == 255
    assert not list((base / "scratch/staging").iterdir())


def test_a_model_image_changed_since_the_record_stops_the_reproduction(
    base: Path,
) -> None:
    record = predict_record(base)
    (base / "results/model/set-0001-model.fits").write_text("redrawn")

    result = run(reproduction(record), base)

    assert result.returncode == 1
    assert "set-0001-model.fits is missing or is not the file predict read" in (
        result.stderr
    )
    assert not (base / "docker.json").exists()
    assert not list((base / "scratch/staging").iterdir())


def test_an_older_predict_record_says_what_it_lacks_and_does_not_run(
    base: Path,
) -> None:
    record = predict_record(base, channels=1)
    del record["staged"]

    script = reproduction(record)
    result = run(script, base)

    assert "does not say which model images predict copied" in script.replace(
        "\n# ", " "
    )
    suggested = [line for line in script.splitlines() if "cp --" in line]
    assert len(suggested) == 1 and suggested[0].startswith("#   cp -- ")
    assert "set-0000-model.fits" in script and "/model-model.fits'" in script
    assert result.returncode == 1
    assert "does not say which model images predict staged" in result.stderr
    assert not (base / "docker.json").exists()
    assert not list((base / "scratch/staging").iterdir())


def clean_record(base: Path) -> dict[str, object]:
    staging = base / "scratch/staging/clean-set-0123456789ab"
    image = base / "results/clean/set-image.fits"
    image.parent.mkdir(parents=True)
    image.write_text("original")
    command = [
        "wsclean", "-temp-dir", str(staging / "tmp"), "-name", str(staging / "clean"),
        str(base / "data/set.ms"),
    ]  # fmt: skip
    record = base / "results/clean/set.provenance.json"
    write_record(
        record,
        "clean",
        execution([command], staging),
        {},
        [base / "data/set.ms"],
        [image],
    )
    loaded: dict[str, object] = json.loads(record.read_text())
    return loaded


def test_a_clean_reproduction_keeps_its_remade_products_only(base: Path) -> None:
    staging = base / "scratch/staging/clean-set-0123456789ab"

    result = run(reproduction(clean_record(base)), base)

    assert result.returncode == 0, result.stderr
    assert sorted(item.name for item in staging.iterdir()) == ["clean-image.fits"]
    assert f"the remade products are in {staging}" in result.stderr
    assert (base / "results/clean/set-image.fits").read_text() == "original"


def test_a_failed_clean_reproduction_leaves_no_staging(base: Path) -> None:
    result = run(reproduction(clean_record(base)), base, FAKE_DOCKER_EXIT="1")

    assert result.returncode == 1
    assert not list((base / "scratch/staging").iterdir())


def test_reproduce_into_a_closed_pipe_ends_quietly(base: Path) -> None:
    """`contimg reproduce X | head -1`: the reader leaves before the end."""
    predict_record(base)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "contimg.cli", "reproduce",
             str(base / "results/predict.json")],
            stdout=write_end, stderr=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)

    assert "Traceback" not in result.stderr, result.stderr
    assert "BrokenPipeError" not in result.stderr, result.stderr
    assert result.returncode == 0
