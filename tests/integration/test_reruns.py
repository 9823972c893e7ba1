"""What a change plans again, seen in dry runs on the session's example run.

The example's Measurement Set is an ancient() input of its steps (predict
changes it in place), and Snakemake does not rerun the consumers of an
ancient() input when the input's producer reruns; the example's record
(`<set>.example.json`) is what carries a rewrite of the set to its steps.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.integration.pipeline import EXAMPLE_SETS, ExampleRun, snakemake, tail

pytestmark = pytest.mark.integration

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent.sock"}


def planned_jobs(dry_run: subprocess.CompletedProcess[str]) -> set[tuple[str, str]]:
    """(rule, set name) of every job a dry run plans; '' for jobs of no set."""
    assert dry_run.returncode == 0, tail(dry_run)
    jobs = set()
    blocks = re.split(r"^\s*(?:local)?rule ", dry_run.stdout, flags=re.MULTILINE)
    for block in blocks[1:]:
        rule = block.split(":", 1)[0]
        wildcards = re.search(r"^\s*wildcards: ms=([^\s,]+)", block, re.MULTILINE)
        jobs.add((rule, wildcards.group(1) if wildcards else ""))
    return jobs


def dry_run_with(
    example_run: ExampleRun, tmp_path: Path, changes: dict[str, object]
) -> subprocess.CompletedProcess[str]:
    """A dry run of the example's workdir with changes laid over its config."""
    workdir = example_run.workdir
    changed = tmp_path / "changes.yaml"
    changed.write_text(yaml.safe_dump(changes))
    configs = (str(workdir / "config.yaml"), str(changed))
    return snakemake(workdir, "-n", "--configfile", *configs, env=NO_ENGINE)


STEPS = {"sky_model", "draw_model", "predict", "clean", "summary"}


def test_the_finished_example_plans_nothing(example_run: ExampleRun) -> None:
    plan = snakemake(example_run.workdir, "-n", env=NO_ENGINE)

    assert plan.returncode == 0, tail(plan)
    assert "Nothing to be done" in plan.stdout + plan.stderr, tail(plan)


def test_changing_the_sky_model_reruns_its_steps_and_leaves_the_example_set_alone(
    example_run: ExampleRun, tmp_path: Path
) -> None:
    plan = dry_run_with(example_run, tmp_path, {"sky_model": {"min_flux_jy": 0.01}})

    expected = {(step, name) for step in STEPS for name in EXAMPLE_SETS}
    assert planned_jobs(plan) == expected | {("all", "")}, plan.stdout[-3000:]


def test_changing_the_examples_sky_rewrites_the_set_and_reruns_its_steps(
    example_run: ExampleRun, tmp_path: Path
) -> None:
    plan = dry_run_with(example_run, tmp_path, {"example": {"min_flux_jy": 0.01}})

    expected = {(step, "cosmos") for step in STEPS}
    example = {("example_measurement_set", "")}
    assert planned_jobs(plan) == expected | example | {("all", "")}, plan.stdout[
        -3000:
    ]


def test_changing_the_padding_reruns_predict_and_what_follows_not_the_drawing(
    example_run: ExampleRun, tmp_path: Path
) -> None:
    plan = dry_run_with(example_run, tmp_path, {"model_image": {"padding": 1.5}})

    steps = {"predict", "clean", "summary"}
    expected = {(step, name) for step in steps for name in EXAMPLE_SETS}
    assert planned_jobs(plan) == expected | {("all", "")}, plan.stdout[-3000:]
