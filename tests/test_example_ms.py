"""The example DSA-110 Measurement Set, checked against independent computations."""

from __future__ import annotations

import csv
import logging
import math
import statistics
from pathlib import Path

import astropy.units as u
import erfa
import numpy as np
import numpy.typing as npt
import pytest
from astropy.coordinates import GCRS, EarthLocation, SkyCoord
from astropy.time import Time
from astropy.utils import iers
from casacore.measures import measures
from casacore.quanta import quantity
from casacore.tables import table, taql

from contimg.errors import MeasurementSetError
from contimg.example import ExampleSettings, write_dsa110_measurement_set
from contimg.skymodel import Component

STATIONS_CSV = (
    Path(__file__).resolve().parents[1]
    / "resources"
    / "dsa110"
    / "DSA110_Station_Coordinates.csv"
)
SMALL = ExampleSettings(max_stations=10, integrations=3, channels=4)
COMPONENTS = [
    Component("bright", 150.1, 2.2, 1.0, (-0.7,), True, 1.4e9),
    Component("east", 150.6, 2.3, 0.5, (-0.7,), True, 1.4e9),
    Component("south", 149.9, 1.6, 0.25, (0.3,), True, 1.4e9),
]
SUBTABLES = (
    "ANTENNA",
    "FEED",
    "OBSERVATION",
    "SPECTRAL_WINDOW",
    "POLARIZATION",
    "DATA_DESCRIPTION",
    "FIELD",
    "PROCESSOR",
)


@pytest.fixture(scope="module")
def small_ms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("example") / "dsa110.ms"
    write_dsa110_measurement_set(path, STATIONS_CSV, COMPONENTS, settings=SMALL)
    return path


def csv_stations() -> list[tuple[str, float, float, float | None]]:
    """(name, latitude, longitude, elevation or None) read with the csv module."""
    with STATIONS_CSV.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = next(index for index, row in enumerate(rows) if "Station Number" in row)
    return [
        (row[1], float(row[2]), float(row[3]), float(row[4]) if row[4] else None)
        for row in rows[header + 1 :]
        if len(row) > 4 and row[1]
    ]


def csv_itrf_m() -> npt.NDArray[np.float64]:
    """ITRF positions of all stations, the missing elevation filled by the median."""
    stations = csv_stations()
    median = statistics.median(s[3] for s in stations if s[3] is not None)
    positions = []
    for _, latitude, longitude, elevation in stations:
        height = median if elevation is None else elevation
        place = EarthLocation.from_geodetic(longitude, latitude, height)
        positions.append(
            [place.x.to_value(u.m), place.y.to_value(u.m), place.z.to_value(u.m)]
        )
    return np.array(positions)


def erfa_uvw_m(
    baseline_itrf_m: npt.NDArray[np.float64],
    time_s: float,
    ra_deg: float,
    dec_deg: float,
) -> npt.NDArray[np.float64]:
    """J2000 (u, v, w) of an ITRF baseline, with erfa instead of casacore.

    The baseline is rotated rigidly into the GCRS (IAU 2006/2000A, polar motion
    and UT1 from astropy's bundled IERS data) and projected onto the axes of the
    phase centre's apparent (aberrated) direction, which sets the delay.
    """
    with iers.conf.set_temp("auto_download", False):
        moment = Time(time_s / 86400.0, format="mjd", scale="utc")
        polar_x, polar_y = iers.earth_orientation_table.get().pm_xy(moment)
        to_terrestrial = erfa.c2t06a(
            moment.tt.jd1,
            moment.tt.jd2,
            moment.ut1.jd1,
            moment.ut1.jd2,
            polar_x.to_value(u.rad),
            polar_y.to_value(u.rad),
        )
        seen = SkyCoord(
            ra_deg * u.deg, dec_deg * u.deg, frame="fk5", equinox="J2000"
        ).transform_to(GCRS(obstime=moment))
    alpha, delta = seen.ra.rad, seen.dec.rad
    axes = np.array(
        [
            [-math.sin(alpha), math.cos(alpha), 0.0],
            [
                -math.sin(delta) * math.cos(alpha),
                -math.sin(delta) * math.sin(alpha),
                math.cos(delta),
            ],
            [
                math.cos(delta) * math.cos(alpha),
                math.cos(delta) * math.sin(alpha),
                math.sin(delta),
            ],
        ]
    )
    return np.asarray(axes @ (to_terrestrial.T @ baseline_itrf_m))


def test_subtables_are_present_and_filled(small_ms: Path) -> None:
    with table(str(small_ms), ack=False) as main:
        keywords = main.getkeywords()
        assert main.nrows() == 45 * 3
        assert "MODEL_DATA" not in main.colnames()
        assert "CORRECTED_DATA" not in main.colnames()
    for name in SUBTABLES:
        assert name in keywords
        with table(str(small_ms / name), ack=False) as subtable:
            assert subtable.nrows() > 0, name
    with table(str(small_ms / "OBSERVATION"), ack=False) as observation:
        assert observation.getcell("TELESCOPE_NAME", 0) == "DSA_110"
    with table(str(small_ms / "FEED"), ack=False) as feeds:
        assert feeds.nrows() == 10


def test_spectral_setup_and_field(small_ms: Path) -> None:
    with table(str(small_ms / "SPECTRAL_WINDOW"), ack=False) as window:
        np.testing.assert_allclose(
            window.getcell("CHAN_FREQ", 0), 1.39725e9 + 0.5e6 * np.arange(4)
        )
        assert window.getcell("MEAS_FREQ_REF", 0) == 5
        assert window.getcell("TOTAL_BANDWIDTH", 0) == pytest.approx(2e6)
    with table(str(small_ms / "POLARIZATION"), ack=False) as polarization:
        assert list(polarization.getcell("CORR_TYPE", 0)) == [9, 12]
    with table(str(small_ms / "FIELD"), ack=False) as fields:
        np.testing.assert_allclose(
            fields.getcell("PHASE_DIR", 0), np.radians([[150.1, 2.2]])
        )
        assert fields.getcell("NAME", 0) == "COSMOS"


def test_antenna_positions_match_the_station_table(small_ms: Path) -> None:
    expected = csv_itrf_m()[:10]
    with table(str(small_ms / "ANTENNA"), ack=False) as antennas:
        positions = antennas.getcol("POSITION")
        names = antennas.getcol("NAME")
        diameters = antennas.getcol("DISH_DIAMETER")
    np.testing.assert_allclose(positions, expected, rtol=0, atol=1e-3)
    assert names == [f"DSA-{number:03d}" for number in range(1, 11)]
    np.testing.assert_allclose(diameters, 4.65)


def test_uvw_matches_an_erfa_computation(small_ms: Path) -> None:
    with table(str(small_ms), ack=False) as main:
        uvw = main.getcol("UVW")
        first, second = main.getcol("ANTENNA1"), main.getcol("ANTENNA2")
        times = main.getcol("TIME")
    positions = csv_itrf_m()

    for row in (0, 8, 44, 60, 134):
        baseline = positions[second[row]] - positions[first[row]]
        expected = erfa_uvw_m(baseline, times[row], 150.1, 2.2)
        np.testing.assert_allclose(uvw[row], expected, rtol=0, atol=1e-3)


def test_east_baseline_has_positive_u_at_transit(small_ms: Path) -> None:
    # DSA-001..DSA-010 run west to east; UVW = position(ANTENNA2) - (ANTENNA1).
    with table(str(small_ms), ack=False) as main:
        row = 45 + 8  # middle integration, baseline DSA-001 to DSA-010
        assert (main.getcell("ANTENNA1", row), main.getcell("ANTENNA2", row)) == (0, 9)
        u_m, v_m, _ = main.getcell("UVW", row)
    assert u_m == pytest.approx(51.8, abs=0.2)
    assert abs(v_m) < 0.5


def test_middle_integration_is_at_transit(small_ms: Path) -> None:
    with table(str(small_ms), ack=False) as main:
        middle_s = float(np.unique(main.getcol("TIME"))[1])
    centre = csv_itrf_m().mean(axis=0)

    dm = measures()
    dm.do_frame(dm.position("itrf", *[quantity(value, "m") for value in centre]))
    epoch = dm.epoch("utc", quantity(middle_s, "s"))
    dm.do_frame(epoch)
    sidereal_days = dm.measure(epoch, "last")["m0"]["value"]
    apparent = dm.measure(
        dm.direction("j2000", quantity(150.1, "deg"), quantity(2.2, "deg")), "app"
    )
    hour_angle = 2 * math.pi * (sidereal_days % 1.0) - apparent["m0"]["value"]
    hour_angle = (hour_angle + math.pi) % (2 * math.pi) - math.pi

    hour_angle_s = hour_angle / (2 * math.pi) * 86164.0905
    assert abs(hour_angle_s) < 1.0
    assert Time(middle_s / 86400.0, format="mjd").iso.startswith("2024-03-01")


def reference_visibility(
    uvw_m: npt.NDArray[np.float64], frequency_hz: float
) -> complex:
    """Stokes I of COMPONENTS on one baseline, written out term by term."""
    ra0, dec0 = math.radians(150.1), math.radians(2.2)
    total = 0j
    for component in COMPONENTS:
        ra, dec = math.radians(component.ra_deg), math.radians(component.dec_deg)
        l_ = math.cos(dec) * math.sin(ra - ra0)
        m_ = math.sin(dec) * math.cos(dec0) - math.cos(dec) * math.sin(dec0) * math.cos(
            ra - ra0
        )
        n_ = math.sqrt(1 - l_ * l_ - m_ * m_)
        path_m = uvw_m[0] * l_ + uvw_m[1] * m_ + uvw_m[2] * (n_ - 1)
        phase = 2 * math.pi * path_m * frequency_hz / 299792458.0
        flux = float(component.flux_at(frequency_hz))
        total += flux * complex(math.cos(phase), math.sin(phase))
    return total


def test_data_is_the_sky_model(small_ms: Path) -> None:
    with table(str(small_ms), ack=False) as main:
        data = main.getcol("DATA")
        uvw = main.getcol("UVW")
        flags = main.getcol("FLAG")
    with table(str(small_ms / "SPECTRAL_WINDOW"), ack=False) as window:
        frequencies = window.getcell("CHAN_FREQ", 0)

    for row in (3, 77, 130):
        for channel, frequency in enumerate(frequencies):
            expected = reference_visibility(uvw[row], float(frequency))
            assert data[row, channel, 0] == pytest.approx(expected, abs=1e-5)
            assert data[row, channel, 1] == pytest.approx(expected, abs=1e-5)
    assert data.shape == (135, 4, 2)
    assert not flags.any()
    assert np.abs(data[:, :, 0]).std() > 0.01


def test_set_reopens_and_is_not_overwritten(small_ms: Path) -> None:
    with table(str(small_ms), ack=False) as main:
        before = main.getcol("DATA")

    with pytest.raises(MeasurementSetError, match="already exists"):
        write_dsa110_measurement_set(
            small_ms, STATIONS_CSV, COMPONENTS[:1], settings=SMALL
        )

    with table(str(small_ms), ack=False) as main:
        np.testing.assert_array_equal(main.getcol("DATA"), before)
    assert not (small_ms.parent / f".{small_ms.name}.partial").exists()


def test_whole_array_uvw_agrees_with_casacore_from_the_set(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = ExampleSettings(integrations=1, channels=1, correlations=("XX",))
    path = tmp_path / "whole.ms"
    with caplog.at_level(logging.WARNING, logger="contimg.example"):
        write_dsa110_measurement_set(
            path, STATIONS_CSV, COMPONENTS[:1], settings=settings
        )
    assert "DSA-117" in caplog.text

    with table(str(path), ack=False) as main:
        assert main.nrows() == 117 * 116 // 2
        stored = main.getcol("UVW")
        # mscal recomputes J2000 UVW from the set's own ANTENNA, FIELD and TIME.
        recomputed = taql("select mscal.uvwj2000() as UVW from $main").getcol("UVW")
    assert np.linalg.norm(stored, axis=1).max() > 2000
    np.testing.assert_allclose(stored, recomputed, rtol=0, atol=1e-3)
    with table(str(path / "ANTENNA"), ack=False) as antennas:
        np.testing.assert_allclose(
            antennas.getcol("POSITION"), csv_itrf_m(), rtol=0, atol=1e-3
        )
