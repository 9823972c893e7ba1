"""A realistic, noise-free DSA-110 Measurement Set for trying out the pipeline.

The set holds the real DSA-110 station positions, a transit observation of one
field and DATA predicted from point components by contimg.dft, so imaging DATA
gives back the sky model.

Conventions:

- UVW are J2000 (u, v, w) in metres, computed with casacore.measures, the code
  CASA itself uses: the ITRF baseline vector is converted to J2000 (precession,
  nutation, Earth rotation from the bundled IERS tables) and projected onto the
  phase centre's axes. A row (ANTENNA1, ANTENNA2) holds
  uvw(ANTENNA2) - uvw(ANTENNA1), the baseline POSITION2 - POSITION1 that the
  Measurement Set definition (v2.0) gives for the UVW column and that casacore's
  MSUVWGenerator writes. The wrong sign would mirror the image.
- DATA follows contimg.dft: V = sum S exp(+2 pi i (u l + v m + w (n - 1)) f / c),
  written as XX = YY = V (Stokes I = (XX + YY) / 2) and XY = YX = 0.
- TIME is the centre of each integration; the middle of the observation is the
  phase centre's transit (apparent hour angle 0) at the array centre, taken as
  the mean ITRF position of all stations in the table, computed with astropy
  from its bundled IERS data: nothing is downloaded.
"""

from __future__ import annotations

import argparse
import logging
import math
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import astropy.units as u
import numpy as np
import numpy.typing as npt
from astropy.coordinates import EarthLocation
from casacore.tables import default_ms, makearrcoldesc, maketabdesc, table

from contimg.dft import predict_visibilities
from contimg.dsa110 import DISH_DIAMETER_M, STATIONS_CSV, Stations, read_stations
from contimg.errors import ConfigError, ContimgError, MeasurementSetError
from contimg.skymodel import Component, read_sky_model
from contimg.transit import (
    antenna_uvw_m,
    baseline_pairs,
    integration_centres_s,
    transit_time,
)

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]

LINEAR_CORRELATIONS = {
    "XX": (9, 0, 0),
    "XY": (10, 0, 1),
    "YX": (11, 1, 0),
    "YY": (12, 1, 1),
}
"""Correlation name: (CORR_TYPE, receptor 1, receptor 2) for linear feeds."""
MEAS_FREQ_REF_TOPO = 5
TELESCOPE_NAME = "DSA_110"


@dataclass(frozen=True)
class ExampleSettings:
    """What the example observation looks like."""

    phase_centre_ra_deg: float = 150.1
    """Right ascension of the phase centre (J2000, degrees): the COSMOS field."""
    phase_centre_dec_deg: float = 2.2
    """Declination of the phase centre (J2000, degrees)."""
    field_name: str = "COSMOS"
    """NAME of the one FIELD row."""
    integrations: int = 12
    """Number of integrations (time steps)."""
    integration_s: float = 12.884901888
    """Length of one integration in seconds (DSA-110's)."""
    channels: int = 32
    """Number of frequency channels in the one spectral window."""
    first_channel_hz: float = 1.39725e9
    """Centre frequency of the first channel (an L-band sub-band near 1.405 GHz)."""
    channel_width_hz: float = 0.5e6
    """Width of each channel."""
    correlations: tuple[str, ...] = ("XX", "YY")
    """Correlations written, from XX, XY, YX, YY (DSA-110 has linear feeds)."""
    observation_date: date = date(2024, 3, 1)
    """UTC date of the first transit of the phase centre, the observation's middle."""
    max_stations: int | None = None
    """Use only the first this many stations of the table (None: all of them)."""

    def __post_init__(self) -> None:
        usable = (
            self.integrations >= 1
            and self.channels >= 1
            and self.integration_s > 0
            and bool(self.correlations)
            and set(self.correlations) <= set(LINEAR_CORRELATIONS)
            and (self.max_stations is None or self.max_stations >= 2)
        )
        if not usable:
            raise ConfigError(
                f"example settings {self} are not usable; expected at least one "
                "integration and one channel, a positive integration time, "
                f"correlations from {', '.join(LINEAR_CORRELATIONS)} and "
                "max_stations of at least 2 or None; change them"
            )

    def frequencies_hz(self) -> FloatArray:
        """Centre frequency of each channel."""
        return self.first_channel_hz + self.channel_width_hz * np.arange(
            self.channels, dtype=np.float64
        )


def create_main_table(path: Path, nchan: int, ncorr: int) -> table:
    """An empty Measurement Set with every required subtable and a DATA column."""
    columns = maketabdesc(
        [
            makearrcoldesc("DATA", 0j, shape=[nchan, ncorr], valuetype="complex"),
            makearrcoldesc("FLAG", False, shape=[nchan, ncorr]),
            makearrcoldesc("WEIGHT", 1.0, shape=[ncorr], valuetype="float"),
            makearrcoldesc("SIGMA", 1.0, shape=[ncorr], valuetype="float"),
        ]
    )
    main = default_ms(str(path), columns)
    # default_ms labels UVW as ITRF; these are J2000 coordinates.
    main.putcolkeyword("UVW", "MEASINFO", {"type": "uvw", "Ref": "J2000"})
    return main


def put_constant_columns(
    main: table, nrow: int, nchan: int, ncorr: int, settings: ExampleSettings
) -> None:
    """Columns that are the same for every row of this single-field set."""
    zeros = np.zeros(nrow, dtype=np.int32)
    for name in (
        "ARRAY_ID",
        "DATA_DESC_ID",
        "FIELD_ID",
        "FEED1",
        "FEED2",
        "OBSERVATION_ID",
        "PROCESSOR_ID",
    ):
        main.putcol(name, zeros)
    main.putcol("SCAN_NUMBER", zeros + 1)
    # -1: no STATE rows, as the Measurement Set definition allows.
    main.putcol("STATE_ID", zeros - 1)

    for name in ("INTERVAL", "EXPOSURE"):
        main.putcol(name, np.full(nrow, settings.integration_s))
    main.putcol("FLAG_ROW", np.zeros(nrow, dtype=bool))
    main.putcol("FLAG", np.zeros((nrow, nchan, ncorr), dtype=bool))
    for name in ("WEIGHT", "SIGMA"):
        main.putcol(name, np.ones((nrow, ncorr), dtype=np.float32))


def stokes_i_to_correlations(
    visibilities: npt.NDArray[np.complex128], correlations: Sequence[str]
) -> npt.NDArray[np.complex64]:
    """(nrow, nchan) Stokes I to (nrow, nchan, ncorr): XX = YY = I, XY = YX = 0."""
    data = np.zeros((*visibilities.shape, len(correlations)), dtype=np.complex64)
    for index, name in enumerate(correlations):
        if name in ("XX", "YY"):
            data[:, :, index] = visibilities
    return data


def fill_main_table(
    main: table,
    stations: Stations,
    times_s: FloatArray,
    components: Sequence[Component],
    settings: ExampleSettings,
) -> None:
    """Write every row, one integration at a time so that memory stays bounded."""
    first, second = baseline_pairs(len(stations.names))
    nbaseline, frequencies = first.size, settings.frequencies_hz()
    nrow = nbaseline * times_s.size
    main.addrows(nrow)
    put_constant_columns(
        main, nrow, frequencies.size, len(settings.correlations), settings
    )
    main.putcol("ANTENNA1", np.tile(first, times_s.size))
    main.putcol("ANTENNA2", np.tile(second, times_s.size))

    uvw_per_station = antenna_uvw_m(stations, times_s, settings)
    for index, time_s in enumerate(times_s):
        start = index * nbaseline
        uvw = uvw_per_station[index][second] - uvw_per_station[index][first]
        visibilities = predict_visibilities(
            components,
            settings.phase_centre_ra_deg,
            settings.phase_centre_dec_deg,
            uvw,
            frequencies,
        )
        main.putcol("UVW", uvw, startrow=start, nrow=nbaseline)
        for name in ("TIME", "TIME_CENTROID"):
            main.putcol(
                name, np.full(nbaseline, time_s), startrow=start, nrow=nbaseline
            )
        main.putcol(
            "DATA",
            stokes_i_to_correlations(visibilities, settings.correlations),
            startrow=start,
            nrow=nbaseline,
        )


def write_rows(
    ms_path: Path, name: str, nrow: int, columns: Mapping[str, object]
) -> None:
    """Add nrow rows to a subtable of the set; columns hold one value per row."""
    with table(str(ms_path / name), readonly=False, ack=False) as subtable:
        subtable.addrows(nrow)
        for column, values in columns.items():
            subtable.putcol(column, values)


def write_one_row(ms_path: Path, name: str, cells: Mapping[str, object]) -> None:
    """Add one row to a subtable of the set; cells hold that row's values."""
    with table(str(ms_path / name), readonly=False, ack=False) as subtable:
        subtable.addrows(1)
        for column, value in cells.items():
            subtable.putcell(column, 0, value)


def write_stations(
    ms_path: Path, stations: Stations, times_s: FloatArray, settings: ExampleSettings
) -> None:
    """One ANTENNA row per station and one FEED row (two linear receptors) each."""
    count = len(stations.names)
    write_rows(
        ms_path,
        "ANTENNA",
        count,
        {
            "NAME": list(stations.names),
            # The casacore observatory list calls the site OVRO_MMA.
            "STATION": ["OVRO_MMA"] * count,
            "TYPE": ["GROUND-BASED"] * count,
            "MOUNT": ["ALT-AZ"] * count,
            "POSITION": stations.itrf_m,
            "OFFSET": np.zeros((count, 3)),
            "DISH_DIAMETER": np.full(count, DISH_DIAMETER_M),
            "FLAG_ROW": np.zeros(count, dtype=bool),
        },
    )

    write_rows(
        ms_path,
        "FEED",
        count,
        {
            "ANTENNA_ID": np.arange(count, dtype=np.int32),
            "FEED_ID": np.zeros(count, dtype=np.int32),
            "SPECTRAL_WINDOW_ID": np.full(count, -1, dtype=np.int32),
            "BEAM_ID": np.full(count, -1, dtype=np.int32),
            "TIME": np.full(count, times_s.mean()),
            "INTERVAL": np.full(count, times_s.size * settings.integration_s),
            "NUM_RECEPTORS": np.full(count, 2, dtype=np.int32),
            "POLARIZATION_TYPE": np.array([["X", "Y"]] * count),
            "RECEPTOR_ANGLE": np.tile([0.0, math.pi / 2], (count, 1)),
            "BEAM_OFFSET": np.zeros((count, 2, 2)),
            "POL_RESPONSE": np.tile(np.eye(2, dtype=np.complex64), (count, 1, 1)),
            "POSITION": np.zeros((count, 3)),
        },
    )


def write_spectral_setup(ms_path: Path, settings: ExampleSettings) -> None:
    """SPECTRAL_WINDOW, POLARIZATION and DATA_DESCRIPTION: one row each."""
    frequencies = settings.frequencies_hz()
    widths = np.full(frequencies.size, settings.channel_width_hz)
    write_one_row(
        ms_path,
        "SPECTRAL_WINDOW",
        {
            "MEAS_FREQ_REF": MEAS_FREQ_REF_TOPO,
            "NUM_CHAN": frequencies.size,
            "NAME": "L-band",
            "CHAN_FREQ": frequencies,
            "CHAN_WIDTH": widths,
            "EFFECTIVE_BW": widths,
            "RESOLUTION": widths,
            "REF_FREQUENCY": float(frequencies[0]),
            "TOTAL_BANDWIDTH": float(widths.sum()),
            "NET_SIDEBAND": 1,
            "FLAG_ROW": False,
        },
    )

    kinds = np.array(
        [LINEAR_CORRELATIONS[name] for name in settings.correlations], dtype=np.int32
    )
    write_one_row(
        ms_path,
        "POLARIZATION",
        {
            "NUM_CORR": len(kinds),
            "CORR_TYPE": kinds[:, 0],
            "CORR_PRODUCT": kinds[:, 1:],
            "FLAG_ROW": False,
        },
    )
    write_one_row(
        ms_path,
        "DATA_DESCRIPTION",
        {
            "SPECTRAL_WINDOW_ID": 0,
            "POLARIZATION_ID": 0,
            "FLAG_ROW": False,
        },
    )


def write_field_and_observation(
    ms_path: Path, times_s: FloatArray, settings: ExampleSettings
) -> None:
    """FIELD (the phase centre), OBSERVATION and PROCESSOR: one row each."""
    direction = np.radians(
        [[settings.phase_centre_ra_deg, settings.phase_centre_dec_deg]]
    )
    write_one_row(
        ms_path,
        "FIELD",
        {
            "PHASE_DIR": direction,
            "DELAY_DIR": direction,
            "REFERENCE_DIR": direction,
            "NAME": settings.field_name,
            "CODE": "",
            "TIME": float(times_s.mean()),
            # SOURCE_ID -1: this set has no SOURCE table.
            "NUM_POLY": 0,
            "SOURCE_ID": -1,
            "FLAG_ROW": False,
        },
    )

    half = settings.integration_s / 2
    write_one_row(
        ms_path,
        "OBSERVATION",
        {
            "TIME_RANGE": np.array([times_s[0] - half, times_s[-1] + half]),
            "TELESCOPE_NAME": TELESCOPE_NAME,
            "OBSERVER": "contimg.example",
            "PROJECT": "contimg example (simulated, noise-free)",
            "RELEASE_DATE": float(times_s[-1] + half),
            "SCHEDULE_TYPE": "",
            "LOG": np.array(["written by contimg.example"]),
            "SCHEDULE": np.array([""]),
            "FLAG_ROW": False,
        },
    )
    write_one_row(
        ms_path,
        "PROCESSOR",
        {
            "TYPE": "CORRELATOR",
            "SUB_TYPE": "",
            "TYPE_ID": -1,
            "MODE_ID": -1,
            "FLAG_ROW": False,
        },
    )


def build_measurement_set(
    partial: Path,
    stations_csv: Path,
    components: Sequence[Component],
    settings: ExampleSettings,
) -> int:
    """Write the whole set at partial; return its number of rows."""
    stations = read_stations(stations_csv, settings.max_stations)
    x, y, z = stations.array_centre_m
    centre = EarthLocation.from_geocentric(x, y, z, unit=u.m)
    times_s = integration_centres_s(settings, transit_time(settings, centre))

    main = create_main_table(partial, settings.channels, len(settings.correlations))
    try:
        fill_main_table(main, stations, times_s, components, settings)
        nrow = int(main.nrows())
    finally:
        main.close()

    write_stations(partial, stations, times_s, settings)
    write_spectral_setup(partial, settings)
    write_field_and_observation(partial, times_s, settings)
    return nrow


def write_dsa110_measurement_set(
    path: Path,
    stations_csv: Path,
    components: Sequence[Component],
    *,
    settings: ExampleSettings = ExampleSettings(),
) -> None:
    """Write a noise-free DSA-110 transit observation of components to path.

    The set is built in a sibling directory .{name}.partial and renamed into
    place, so path holds a whole set or nothing. An existing path is an error.
    """
    if path.exists():
        raise MeasurementSetError(
            f"{path} already exists; expected a path that does not, so that no "
            "set is overwritten; remove it or choose another path"
        )
    partial = path.with_name(f".{path.name}.partial")
    if partial.exists():
        logger.warning("removing %s, left over from an interrupted write", partial)
        shutil.rmtree(partial)
    path.parent.mkdir(parents=True, exist_ok=True)

    try:
        nrow = build_measurement_set(partial, stations_csv, components, settings)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(path)

    logger.info(
        "wrote %s: %d rows, %d channels, %d components",
        path,
        nrow,
        settings.channels,
        len(components),
    )


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line of python -m contimg.example."""
    parser = argparse.ArgumentParser(
        prog="python -m contimg.example",
        description="Write a noise-free DSA-110 Measurement Set of a sky model.",
    )
    parser.add_argument("output", type=Path, help="the Measurement Set to create")
    parser.add_argument(
        "--sky-model",
        type=Path,
        required=True,
        help="WSClean text sky model whose components fill DATA",
    )
    parser.add_argument(
        "--stations",
        type=Path,
        default=STATIONS_CSV,
        help="DSA-110 station table (default: the bundled copy)",
    )
    parser.add_argument(
        "--max-stations",
        type=int,
        default=None,
        help="use only the first N stations (default: all)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        settings = ExampleSettings(max_stations=arguments.max_stations)
        components = read_sky_model(arguments.sky_model)
        write_dsa110_measurement_set(
            arguments.output, arguments.stations, components, settings=settings
        )
    except (ContimgError, OSError) as error:
        logger.error("%s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
