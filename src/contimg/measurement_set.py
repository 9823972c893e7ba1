"""What contimg reads from a Measurement Set on the host, with python-casacore.

Only metadata is read here (phase centre, frequencies, baselines, columns);
visibilities stay in the worker's hands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from contimg.errors import MeasurementSetError

logger = logging.getLogger(__name__)

REQUIRED_SUBTABLES = (
    "ANTENNA",
    "DATA_DESCRIPTION",
    "FEED",
    "FIELD",
    "OBSERVATION",
    "POLARIZATION",
    "SPECTRAL_WINDOW",
)


@dataclass(frozen=True)
class MeasurementSetSummary:
    """The facts of a Measurement Set that the WSClean steps are built from."""

    path: Path
    phase_centre: SkyCoord
    """Phase centre of the first field (J2000)."""
    channel_frequencies_hz: tuple[float, ...]
    """Channel centre frequencies of the first spectral window."""
    channel_width_hz: float
    longest_baseline_m: float
    columns: frozenset[str]
    row_count: int

    @property
    def centre_frequency_hz(self) -> float:
        """Centre of the band, halfway between its outer channel edges."""
        low = min(self.channel_frequencies_hz) - abs(self.channel_width_hz) / 2
        high = max(self.channel_frequencies_hz) + abs(self.channel_width_hz) / 2
        return (low + high) / 2

    @property
    def bandwidth_hz(self) -> float:
        """Width of the band from its lowest to its highest channel edge."""
        low = min(self.channel_frequencies_hz) - abs(self.channel_width_hz) / 2
        high = max(self.channel_frequencies_hz) + abs(self.channel_width_hz) / 2
        return high - low


def open_table(path: Path, subtable: str | None = None) -> Any:
    """Open a Measurement Set (or one of its subtables) read-only."""
    from casacore.tables import table

    name = str(path) if subtable is None else f"{path}::{subtable}"
    try:
        return table(name, readonly=True, ack=False)
    except RuntimeError as error:
        raise MeasurementSetError(
            f"Measurement Set {path} cannot be opened"
            + (f" (subtable {subtable})" if subtable else "")
            + f": {error}; expected a casacore table directory such as the .ms "
            "folder that a correlator or converter writes"
        ) from error


def check_structure(path: Path) -> None:
    """Refuse what WSClean would refuse, before it runs, with a clear message."""
    if not path.is_dir():
        raise MeasurementSetError(
            f"Measurement Set {path} does not exist or is not a directory; "
            "check the path in the measurement_sets table of the config"
        )
    keywords = open_table(path).getkeywords()
    missing = [name for name in REQUIRED_SUBTABLES if name not in keywords]
    if missing:
        raise MeasurementSetError(
            f"Measurement Set {path} lacks the subtable(s) {', '.join(missing)}, "
            "which WSClean needs; rewrite the set with a tool that writes a "
            "complete Measurement Set"
        )
    if open_table(path, "OBSERVATION").nrows() == 0:
        raise MeasurementSetError(
            f"Measurement Set {path} has an empty OBSERVATION table, which WSClean "
            "refuses ('No observations in set'); add an OBSERVATION row"
        )


def read_summary(path: Path) -> MeasurementSetSummary:
    """Read phase centre, frequencies, longest baseline and columns of a set."""
    check_structure(path)
    main = open_table(path)
    field = open_table(path, "FIELD")
    window = open_table(path, "SPECTRAL_WINDOW")

    ra_rad, dec_rad = np.asarray(field.getcol("PHASE_DIR"))[0, 0]
    frequencies = np.asarray(window.getcol("CHAN_FREQ"))[0]
    widths = np.asarray(window.getcol("CHAN_WIDTH"))[0]
    uvw = np.asarray(main.getcol("UVW"), dtype=float)

    return MeasurementSetSummary(
        path=path,
        phase_centre=SkyCoord(ra=ra_rad * u.rad, dec=dec_rad * u.rad, frame="icrs"),
        channel_frequencies_hz=tuple(float(f) for f in frequencies),
        channel_width_hz=float(np.median(np.abs(widths))),
        longest_baseline_m=longest_baseline(uvw),
        columns=frozenset(main.colnames()),
        row_count=int(main.nrows()),
    )


def longest_baseline(uvw_m: np.ndarray) -> float:
    """Longest projected baseline (u, v) in metres among the rows of a UVW column.

    Taken from the rows rather than the ANTENNA table, which may list antennas
    that took no data (some sets place those at the Earth's centre).
    """
    if len(uvw_m) == 0:
        return 0.0
    return float(np.sqrt((uvw_m[:, :2] ** 2).sum(axis=1)).max())


def require_column(summary: MeasurementSetSummary, column: str) -> None:
    """Refuse a data column the set does not have."""
    if column not in summary.columns:
        data_columns = sorted(c for c in summary.columns if c.endswith("DATA"))
        raise MeasurementSetError(
            f"Measurement Set {summary.path} has no column {column}; its data "
            f"columns are {', '.join(data_columns) or 'none'}; set the column in "
            "the config to one of them (MODEL_DATA exists only after predict)"
        )
