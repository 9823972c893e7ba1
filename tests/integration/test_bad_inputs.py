"""Each bad input of docs/bad-inputs.md, fed to the real pipeline on the VLA set.

Every case asserts the message and that no step's output is left looking
complete (what Snakemake would take as done).
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import docker
import numpy as np
import pytest
from casacore.tables import table

from tests.integration.pipeline import snakemake
from tests.integration.test_endings import VLA_SET, vla_workdir

pytestmark = pytest.mark.integration


def flag_everything(workdir: Path) -> None:
    with table(str(workdir / VLA_SET), readonly=False, ack=False) as main:
        main.putcol("FLAG", np.ones_like(main.getcol("FLAG")))


def add_wider_window(workdir: Path) -> None:
    with table(
        f"{workdir / VLA_SET}::SPECTRAL_WINDOW", readonly=False, ack=False
    ) as sw:
        sw.addrows(1)
        sw.putcell("NUM_CHAN", 1, 128)


def make_read_only(workdir: Path) -> None:
    for item in (workdir / VLA_SET).glob("table.*"):
        item.chmod(stat.S_IRUSR | stat.S_IRGRP)


def catalogue_without_flux(workdir: Path) -> None:
    (workdir / "catalogue.csv").write_text(
        "name,ra_deg,dec_deg,flux\nJ1008+0730,152.00006667,7.50459778,1.0\n"
    )


def catalogue_with_a_malformed_line(workdir: Path) -> None:
    (workdir / "catalogue.csv").write_text(
        "name,ra_deg,dec_deg,stokes_I_Jy\nJ1008+0730,152.00006667,7.50459778,1.0\n"
        "broken,152.0,7.5,one jansky\n"
    )


CASES: dict[str, tuple[Callable[[Path], None], dict[str, object], str, str]] = {
    "fully flagged": (flag_everything, {}, "clean", "every visibility flagged"),
    "two window widths": (
        add_wider_window, {}, "sky_model", "different channel counts (64, 128)"
    ),
    "read-only": (make_read_only, {}, "predict", "is not writable by this user"),
    "no flux column": (
        catalogue_without_flux, {}, "sky_model", "lacks the column(s) stokes_I_Jy"
    ),
    "malformed catalogue line": (
        catalogue_with_a_malformed_line, {}, "sky_model",
        "line 3: stokes_I_Jy is 'one jansky'",
    ),
    "image size 1023": (
        lambda workdir: None, {"clean": {"size": 1023}}, "", "clean.size is 1023"
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_input_is_refused_by_name_and_leaves_nothing_complete(
    docker_client: docker.DockerClient, worker_image: str, tmp_path: Path, case: str
) -> None:
    spoil, changes, step, message = CASES[case]
    workdir = tmp_path / "run"
    if "catalogue" in case or "flux" in case:
        changes = {"sky_model": {"catalogue": str(workdir / "catalogue.csv")}}
    workdir = vla_workdir(workdir, **changes)
    spoil(workdir)

    result = snakemake(workdir, "--cores", "2")

    logs = sorted((workdir / "logs").rglob("*.log")) if step else []
    said = result.stdout + result.stderr + "".join(p.read_text() for p in logs)
    assert result.returncode != 0
    assert message in said, said[-3000:]
    results = workdir / "results" / "vla"
    complete = {
        "sky_model": results / "sky_model.txt",
        "predict": results / "predict.json",
        "clean": results / "clean" / "vla-image.fits",
    }
    if step:
        assert not complete[step].exists()
    assert not complete["clean"].exists()
