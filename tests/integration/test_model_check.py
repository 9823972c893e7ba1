"""The MODEL_DATA check against WSClean for real: the right model passes, a model
drawn at a shifted centre or from the wrong term image fails.

A small DSA-110 set (all 117 stations, one integration, 12 channels) holds a
point and a Gaussian; WSClean in the worker image draws one model per channel
group (12 channels into 5 groups, an uneven split) and predicts them into
MODEL_DATA, built by contimg's own command builders.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import astropy.units as u
import docker
import pytest
from astropy.coordinates import SkyCoord

from contimg.example import ExampleSettings, write_dsa110_measurement_set
from contimg.measurement_set import read_summary
from contimg.skymodel import Component, GaussianShape, write_sky_model
from contimg.verification import CheckReport, Limits, ModelGeometry, check_model_column
from contimg.wsclean import (
    DrawModelOptions,
    ImageGeometry,
    PredictOptions,
    Resources,
    channel_groups,
    draw_model_command,
    model_image_name,
    predict_command,
)

pytestmark = pytest.mark.integration

STATIONS_CSV = (
    Path(__file__).resolve().parents[2]
    / "resources/dsa110/DSA110_Station_Coordinates.csv"
)
SETTINGS = ExampleSettings(integrations=1, channels=12, channel_width_hz=0.5e6)
COMPONENTS = [
    Component("bright", 150.25, 2.35, 1.0, (-0.7,), True, 1.4e9),
    Component(
        "blob",
        149.95,
        2.05,
        0.5,
        (-1.0, 0.2),
        True,
        1.4e9,
        GaussianShape(50.0, 20.0, 30.0),
    ),
    Component("faint", 150.1, 1.9, 0.2, (0.5,), False, 1.4e9),
]
GEOMETRY = ImageGeometry(size=1024, scale_arcsec=6.0)
GROUPS = 5
PIXEL_DEG = GEOMETRY.scale_arcsec / 3600


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model-check")
    write_dsa110_measurement_set(
        folder / "set.ms", STATIONS_CSV, COMPONENTS, settings=SETTINGS
    )
    write_sky_model(folder / "sky.txt", COMPONENTS, 1.4e9)
    return folder


def run(
    client: docker.DockerClient, image: str, folder: Path, command: Sequence[str]
) -> None:
    """One WSClean command in a throw-away container with the folder mounted."""
    client.containers.run(
        image, list(command), remove=True, network_mode="none", working_dir=str(folder),
        volumes={str(folder): {"bind": str(folder), "mode": "rw"}},
    )  # fmt: skip


def predicted(
    client: docker.DockerClient,
    image: str,
    pristine: Path,
    folder: Path,
    *,
    centre_shift_deg: float = 0.0,
    term: int = 0,
) -> Path:
    """A copy of the set whose MODEL_DATA WSClean predicted from drawn models."""
    folder.mkdir()
    shutil.copytree(pristine / "set.ms", folder / "set.ms")
    shutil.copy(pristine / "sky.txt", folder / "sky.txt")
    summary = read_summary(folder / "set.ms")
    centre = SkyCoord(
        ra=summary.phase_centre.ra,
        dec=summary.phase_centre.dec + centre_shift_deg * u.deg,
    )
    resources = Resources(threads=2)
    groups = channel_groups(
        summary.channel_frequencies_hz, summary.channel_width_hz, GROUPS
    )
    for group in groups:
        draw = draw_model_command(
            folder / "sky.txt", folder / f"group-{group.index}", centre,
            group.centre_hz, group.bandwidth_hz, DrawModelOptions(GEOMETRY), resources,
        )  # fmt: skip
        if term:
            draw += ["-draw-spectral-terms", str(term + 1)]
        run(client, image, folder, draw)
        (folder / f"group-{group.index}-term-{term}.fits").rename(
            model_image_name(folder / "model", group.index, GROUPS)
        )
    options = PredictOptions(GEOMETRY, channels_out=GROUPS, padding=2.0)
    run(
        client,
        image,
        folder,
        predict_command(folder / "set.ms", folder / "model", options, resources),
    )
    return folder / "set.ms"


def check(measurement_set: Path) -> CheckReport:
    report, _ = check_model_column(
        measurement_set,
        measurement_set.parent / "sky.txt",
        ModelGeometry(GEOMETRY.size, GEOMETRY.scale_arcsec),
        Limits(),
    )
    print(report.summary())
    return report


def test_the_models_wsclean_predicts_pass_the_check(
    docker_client: docker.DockerClient,
    worker_image: str,
    pristine: Path,
    tmp_path: Path,
) -> None:
    report = check(predicted(docker_client, worker_image, pristine, tmp_path / "right"))

    assert report.passed, report.problems
    assert report.median < 1e-3 and report.p99 < 1e-2


def test_a_model_drawn_three_pixels_off_centre_fails(
    docker_client: docker.DockerClient,
    worker_image: str,
    pristine: Path,
    tmp_path: Path,
) -> None:
    shifted = predicted(
        docker_client, worker_image, pristine, tmp_path / "shifted",
        centre_shift_deg=3 * PIXEL_DEG,
    )  # fmt: skip

    report = check(shifted)

    assert not report.passed
    assert report.median > 10 * Limits().median


def test_the_spectral_term_image_instead_of_the_flux_image_fails(
    docker_client: docker.DockerClient,
    worker_image: str,
    pristine: Path,
    tmp_path: Path,
) -> None:
    report = check(
        predicted(docker_client, worker_image, pristine, tmp_path / "term", term=1)
    )

    assert not report.passed
    assert report.median > 10 * Limits().median
