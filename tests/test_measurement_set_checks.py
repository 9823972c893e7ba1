"""Checks on Measurement Sets before WSClean runs, on real (small) sets."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest
from casacore.tables import table

from contimg.errors import MeasurementSetError
from contimg.example import ExampleSettings, write_dsa110_measurement_set
from contimg.measurement_set import (
    check_not_all_flagged,
    check_sampling,
    check_spectral_windows,
    check_structure,
    check_writable,
    read_summary,
    require_column,
)
from contimg.skymodel import Component

REPOSITORY = Path(__file__).resolve().parents[1]
STATIONS = REPOSITORY / "resources" / "dsa110" / "DSA110_Station_Coordinates.csv"
SOURCE = Component("s", 150.0, 1.7, 1.0, (-0.7,), True, 1.4e9)


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    path = tmp_path / "small.ms"
    settings = ExampleSettings(
        phase_centre_ra_deg=150.0,
        phase_centre_dec_deg=1.7,
        integrations=2,
        channels=4,
        max_stations=6,
    )
    write_dsa110_measurement_set(path, STATIONS, [SOURCE], settings=settings)
    return path


def test_a_good_set_passes_every_check(small_set: Path) -> None:
    summary = read_summary(small_set)

    check_structure(small_set)
    check_spectral_windows(small_set)
    check_not_all_flagged(small_set)
    check_writable(small_set, "predict")
    check_sampling(summary, 6.0, "clean.scale_arcsec")
    require_column(summary, "DATA")


def test_a_missing_set_is_named(tmp_path: Path) -> None:
    with pytest.raises(MeasurementSetError, match="does not exist"):
        check_structure(tmp_path / "nowhere.ms")


def test_a_fully_flagged_set_is_refused(small_set: Path) -> None:
    with table(str(small_set), readonly=False, ack=False) as main:
        main.putcol("FLAG", np.ones_like(main.getcol("FLAG")))

    with pytest.raises(MeasurementSetError, match="every visibility flagged"):
        check_not_all_flagged(small_set)


def test_windows_of_different_widths_are_refused(small_set: Path) -> None:
    with table(f"{small_set}::SPECTRAL_WINDOW", readonly=False, ack=False) as windows:
        windows.addrows(1)
        windows.putcell("NUM_CHAN", 1, 8)

    with pytest.raises(MeasurementSetError, match=r"different channel counts \(4, 8\)"):
        check_spectral_windows(small_set)


def test_a_read_only_set_is_refused_for_predict(small_set: Path) -> None:
    # Even for root: the worker drops every capability, so modes apply to it.
    (small_set / "table.dat").chmod(stat.S_IRUSR)

    with pytest.raises(MeasurementSetError, match="not writable"):
        check_writable(small_set, "predict")


def test_a_pixel_scale_too_coarse_for_the_longest_baseline_is_refused(
    small_set: Path,
) -> None:
    summary = read_summary(small_set)

    with pytest.raises(MeasurementSetError, match="too coarse") as raised:
        check_sampling(summary, 3600.0, "clean.scale_arcsec")
    assert "clean.scale_arcsec is 3600 arcsec" in str(raised.value)
    assert "set clean.scale_arcsec to " in str(raised.value)


def test_an_unknown_column_names_the_columns_there_are(small_set: Path) -> None:
    with pytest.raises(MeasurementSetError, match="data columns are DATA"):
        require_column(read_summary(small_set), "CORRECTED_DATA")


def test_an_empty_observation_table_is_refused(small_set: Path) -> None:
    with table(f"{small_set}::OBSERVATION", readonly=False, ack=False) as observation:
        observation.removerows(list(range(observation.nrows())))

    with pytest.raises(MeasurementSetError, match="empty OBSERVATION table"):
        check_structure(small_set)


SELECTION = {
    "radius_deg": 1.0,
    "min_flux_jy": 0.0,
    "spectral_index": -0.7,
    "reference_frequency_hz": 1.4e9,
}


def far_catalogue(folder: Path) -> Path:
    """A catalogue whose one source is nowhere near the small set's field."""
    catalogue = folder / "far.csv"
    catalogue.write_text("name,ra_deg,dec_deg,stokes_I_Jy\nfar,10.0,-40.0,1.0\n")
    return catalogue


def test_no_source_near_the_phase_centre_is_an_error_naming_the_cuts(
    small_set: Path, tmp_path: Path
) -> None:
    from contimg.errors import ContimgError
    from contimg.steps import write_sky_model

    catalogue = far_catalogue(tmp_path)
    selection = dict(SELECTION)

    with pytest.raises(ContimgError, match=r"lies within 1\.0 deg of the phase centre"):
        write_sky_model(catalogue, small_set, tmp_path / "sky.txt", selection)
    assert not (tmp_path / "sky.txt").exists()


def test_an_empty_model_is_written_when_the_config_allows_it(
    small_set: Path, tmp_path: Path
) -> None:
    from contimg.skymodel import read_sky_model
    from contimg.steps import write_sky_model

    catalogue = far_catalogue(tmp_path)
    selection = {**SELECTION, "allow_empty": True}

    assert write_sky_model(catalogue, small_set, tmp_path / "sky.txt", selection) == []
    assert read_sky_model(tmp_path / "sky.txt") == []
    assert (tmp_path / "sky.txt").read_text().startswith("Format = ")
