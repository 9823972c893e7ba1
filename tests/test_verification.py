"""The MODEL_DATA check's logic, on a small real Measurement Set whose DATA is
the direct transform (no WSClean needed: DATA stands in for MODEL_DATA)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from contimg.example import ExampleSettings, write_dsa110_measurement_set
from contimg.skymodel import Component, GaussianShape, write_sky_model
from contimg.verification import (
    CheckReport,
    Limits,
    ModelCheckError,
    ModelGeometry,
    check_model_column,
    outside_image,
    verify_model,
)

STATIONS_CSV = (
    Path(__file__).resolve().parents[1]
    / "resources/dsa110/DSA110_Station_Coordinates.csv"
)
SMALL = ExampleSettings(integrations=1, channels=4)
COMPONENTS = [
    Component("bright", 150.15, 2.25, 1.0, (-0.7,), True, 1.4e9),
    Component(
        "blob",
        150.0,
        2.1,
        0.4,
        (0.2, -0.1),
        False,
        1.4e9,
        GaussianShape(40.0, 15.0, 30.0),
    ),
]
GEOMETRY = ModelGeometry(size=1024, scale_arcsec=6.0)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("check") / "small.ms"
    write_dsa110_measurement_set(path, STATIONS_CSV, COMPONENTS, settings=SMALL)
    return path


def sky_model(folder: Path, components: list[Component]) -> Path:
    path = folder / "sky.txt"
    write_sky_model(path, components, 1.4e9)
    return path


def test_a_column_holding_the_transform_passes_with_tiny_errors(
    small_set: Path, tmp_path: Path
) -> None:
    report, per_baseline = check_model_column(
        small_set, sky_model(tmp_path, COMPONENTS), GEOMETRY, Limits(), column="DATA"
    )

    assert report.passed, report.problems
    assert report.median < 1e-6 and report.p99 < 1e-5
    assert report.baselines == 117 * 116 // 2
    assert report.visibilities == report.baselines * 4
    assert len(per_baseline) == report.baselines


def test_a_shifted_sky_model_fails_and_says_what_to_look_for(
    small_set: Path, tmp_path: Path
) -> None:
    shifted = [replace(c, dec_deg=c.dec_deg + 3 * 6.0 / 3600) for c in COMPONENTS]

    report, _ = check_model_column(
        small_set, sky_model(tmp_path, shifted), GEOMETRY, Limits(), column="DATA"
    )

    assert not report.passed
    assert report.median > 1e-2
    assert "wrong centre, frequency or model image" in report.problems[-1]


def test_a_wrong_spectral_index_fails(small_set: Path, tmp_path: Path) -> None:
    steeper = [replace(COMPONENTS[0], spectral_terms=(-2.5,)), COMPONENTS[1]]

    report, _ = check_model_column(
        small_set, sky_model(tmp_path, steeper), GEOMETRY, Limits(), column="DATA"
    )

    assert not report.passed


def test_a_coarse_pixel_scale_is_named_as_the_problem(
    small_set: Path, tmp_path: Path
) -> None:
    coarse = ModelGeometry(size=64, scale_arcsec=120.0)

    report, _ = check_model_column(
        small_set, sky_model(tmp_path, COMPONENTS), coarse, Limits(), column="DATA"
    )

    assert not report.sampling["sampled"]
    assert any("too coarse for the longest baseline" in p for p in report.problems)


def test_components_beyond_the_drawn_image_are_named() -> None:
    far = Component("far", 151.5, 2.2, 1.0, (0.0,), True, 1.4e9)

    assert outside_image([COMPONENTS[0], far], 150.1, 2.2, GEOMETRY) == ["far"]


def test_a_failed_check_leaves_no_output_and_keeps_its_report_aside(
    small_set: Path, tmp_path: Path
) -> None:
    shifted = [replace(c, ra_deg=c.ra_deg + 0.01) for c in COMPONENTS]
    outputs = (tmp_path / "check.json", tmp_path / "check.png")
    failed = tmp_path / "logs" / "failed.json"

    with pytest.raises(
        ModelCheckError, match=r"median relative error .*full report is in"
    ):
        verify_model(
            small_set, sky_model(tmp_path, shifted), *outputs,
            {"size": 1024, "scale_arcsec": 6.0}, Limits(), failed, column="DATA",
        )  # fmt: skip

    assert not any(path.exists() for path in outputs)
    assert json.loads(failed.read_text())["passed"] is False
    assert failed.with_suffix(".png").is_file()


def test_a_passing_check_writes_report_and_plot(
    small_set: Path, tmp_path: Path
) -> None:
    report_path, plot_path = tmp_path / "check.json", tmp_path / "check.png"

    report = verify_model(
        small_set, sky_model(tmp_path, COMPONENTS), report_path, plot_path,
        {"size": 1024, "scale_arcsec": 6.0}, Limits(), tmp_path / "failed.json",
        column="DATA",
    )  # fmt: skip

    written = json.loads(report_path.read_text())
    assert isinstance(report, CheckReport)
    assert written["passed"] is True
    assert written["median"] == pytest.approx(report.median)
    assert set(written["conventions"]) >= {"sign", "w_term", "spectrum", "stokes_i"}
    assert plot_path.read_bytes()[:4] == b"\x89PNG"
