"""The DSA-110's stations: the real positions, read from the station table.

The table (resources/dsa110/DSA110_Station_Coordinates.csv) has five title
lines before its header row; positions are WGS84 latitude, longitude and
elevation, converted here to ITRF with astropy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
import numpy.typing as npt
import pandas as pd
from astropy.coordinates import EarthLocation

from contimg.errors import ConfigError, ContimgError

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

STATIONS_CSV = (
    Path(__file__).resolve().parents[2]
    / "resources"
    / "dsa110"
    / "DSA110_Station_Coordinates.csv"
)
STATION_TITLE_LINES = 5
STATION_COLUMNS = ("Station Number", "Latitude", "Longitude", "Elevation (meters)")
DISH_DIAMETER_M = 4.65


@dataclass(frozen=True, eq=False)
class Stations:
    """Station names and their ITRF positions (metres, shape (nstation, 3))."""

    names: tuple[str, ...]
    itrf_m: FloatArray
    array_centre_m: FloatArray
    """Mean ITRF position of every station in the table, selected or not."""


def read_station_table(path: Path) -> pd.DataFrame:
    """The DSA-110 station table, with a missing elevation filled by the median."""
    if not path.is_file():
        raise ContimgError(
            f"station table {path} does not exist; expected the DSA-110 station "
            "CSV (resources/dsa110/DSA110_Station_Coordinates.csv); pass its path"
        )
    stations = pd.read_csv(path, skiprows=STATION_TITLE_LINES)
    missing = [name for name in STATION_COLUMNS if name not in stations.columns]
    if missing or stations.empty:
        raise ContimgError(
            f"station table {path} lacks the column(s) {', '.join(missing)} or has "
            f"no rows; expected {STATION_TITLE_LINES} title lines, then the header "
            f"{','.join(STATION_COLUMNS)}; use the file from dsa110/dsa110-antpos"
        )
    if stations[["Latitude", "Longitude"]].isna().any().any():
        raise ContimgError(
            f"station table {path} has a station without latitude or longitude; "
            "expected both for every station; fix or remove that row"
        )

    elevation = stations["Elevation (meters)"]
    gaps = elevation.isna()
    if gaps.any():
        median = float(elevation[~gaps].median())
        names = ", ".join(stations.loc[gaps, "Station Number"].astype(str))
        # DSA-117 has no elevation in the published table; the array is flat to
        # a few metres, so the median is a good guess and keeps the station.
        logger.warning(
            "%s: no elevation for %s; using the median of the other stations, %.1f m",
            path,
            names,
            median,
        )
        stations = stations.assign(**{"Elevation (meters)": elevation.fillna(median)})
    return stations


def read_stations(path: Path, max_stations: int | None = None) -> Stations:
    """Station names and ITRF positions (WGS84 geodetic converted with astropy)."""
    table_ = read_station_table(path)
    location = EarthLocation.from_geodetic(
        lon=table_["Longitude"].to_numpy(dtype=float) * u.deg,
        lat=table_["Latitude"].to_numpy(dtype=float) * u.deg,
        height=table_["Elevation (meters)"].to_numpy(dtype=float) * u.m,
        ellipsoid="WGS84",
    )
    itrf = np.stack(
        [coord.to_value(u.m) for coord in (location.x, location.y, location.z)], axis=1
    )
    names = tuple(str(name).strip() for name in table_["Station Number"])

    count = len(names) if max_stations is None else max_stations
    if count > len(names):
        raise ConfigError(
            f"max_stations={max_stations} but the station table {path} has only "
            f"{len(names)} stations; ask for at most {len(names)} or None"
        )
    return Stations(names[:count], itrf[:count], itrf.mean(axis=0))
