"""What contimg reads from a Measurement Set on the host, with python-casacore.

Only metadata is read here (phase centre, frequencies, baselines, columns);
visibilities stay in the worker's hands.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from contimg.errors import MeasurementSetError

logger = logging.getLogger(__name__)

SPEED_OF_LIGHT_M_S = 299792458.0

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
    columns: frozenset[str]
    row_count: int
    correlation_count: int
    """Correlations (polarisation products) per visibility, of the first setup."""

    @cached_property
    def longest_baseline_m(self) -> float:
        """Longest projected baseline (u, v) in metres, read from UVW when first
        asked for: only the pixel-scale checks need it, and UVW can be large."""
        uvw = np.asarray(open_table(self.path).getcol("UVW"), dtype=float)
        return longest_baseline(uvw)

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
    check_spectral_windows(path)
    if open_table(path, "OBSERVATION").nrows() == 0:
        raise MeasurementSetError(
            f"Measurement Set {path} has an empty OBSERVATION table, which WSClean "
            "refuses ('No observations in set'); add an OBSERVATION row"
        )


def read_summary(path: Path) -> MeasurementSetSummary:
    """Read phase centre, frequencies, columns and sizes of a set, checked."""
    check_structure(path)
    main = open_table(path)
    field = open_table(path, "FIELD")
    window = open_table(path, "SPECTRAL_WINDOW")

    ra_rad, dec_rad = np.asarray(field.getcol("PHASE_DIR"))[0, 0]
    frequencies = np.asarray(window.getcol("CHAN_FREQ"))[0]
    widths = np.asarray(window.getcol("CHAN_WIDTH"))[0]

    return MeasurementSetSummary(
        path=path,
        phase_centre=SkyCoord(ra=ra_rad * u.rad, dec=dec_rad * u.rad, frame="icrs"),
        channel_frequencies_hz=tuple(float(f) for f in frequencies),
        channel_width_hz=float(np.median(np.abs(widths))),
        columns=frozenset(main.colnames()),
        row_count=int(main.nrows()),
        correlation_count=int(open_table(path, "POLARIZATION").getcol("NUM_CORR")[0]),
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


def check_spectral_windows(path: Path) -> None:
    """Refuse spectral windows of different channel counts, which WSClean mixes up."""
    counts = sorted(
        {int(n) for n in open_table(path, "SPECTRAL_WINDOW").getcol("NUM_CHAN")}
    )
    if len(counts) > 1:
        raise MeasurementSetError(
            f"Measurement Set {path} has spectral windows with different channel "
            f"counts ({', '.join(map(str, counts))}); split it into one set per "
            "window (for example with DP3 or CASA's split) and list each set"
        )


def check_not_all_flagged(path: Path) -> None:
    """Refuse a set whose every visibility is flagged: there is nothing to image."""
    main = open_table(path)
    if main.nrows() == 0:
        raise MeasurementSetError(
            f"Measurement Set {path} has no rows; nothing to image"
        )
    flagged_rows = np.asarray(main.getcol("FLAG_ROW"), dtype=bool)
    if flagged_rows.all() or all(
        np.asarray(main.getcol("FLAG", startrow=start, nrow=50000)).all()
        for start in range(0, main.nrows(), 50000)
    ):
        raise MeasurementSetError(
            f"Measurement Set {path} has every visibility flagged, so WSClean would "
            "make empty images; unflag it (or check the flagging that was applied)"
        )


def writable_by(path: Path, uid: int, gid: int) -> bool:
    """Whether the permission bits let uid:gid write a file.

    Bits, not os.access: the worker drops every capability, so even root in
    it is bound by them. Supplementary groups and ACLs are not looked at.
    """
    status = path.stat()
    if status.st_uid == uid:
        return bool(status.st_mode & stat.S_IWUSR)
    if status.st_gid == gid:
        return bool(status.st_mode & stat.S_IWGRP)
    return bool(status.st_mode & stat.S_IWOTH)


def check_writable(path: Path, step: str) -> None:
    """Refuse a set the worker (running as this user) cannot write into."""
    unwritable = [
        str(item)
        for item in (path, *path.glob("table.*"))
        if not writable_by(item, os.getuid(), os.getgid())
    ]
    if unwritable:
        raise MeasurementSetError(
            f"Measurement Set {path} is not writable by this user, and {step} "
            f"writes MODEL_DATA into it (read-only: {', '.join(unwritable[:3])}); "
            "make it writable (chmod -R u+w) or work on a copy"
        )


def nyquist_scale_arcsec(summary: MeasurementSetSummary) -> float:
    """The largest pixel that samples the longest baseline at the top of the band."""
    highest_hz = max(summary.channel_frequencies_hz) + summary.channel_width_hz / 2
    wavelength_m = SPEED_OF_LIGHT_M_S / highest_hz
    if summary.longest_baseline_m <= 0:
        return float("inf")
    return float(np.degrees(wavelength_m / (2 * summary.longest_baseline_m)) * 3600)


def check_sampling(
    summary: MeasurementSetSummary, scale_arcsec: float, what: str
) -> None:
    """Refuse a pixel scale too coarse for the longest baseline (under-sampled)."""
    highest_hz = max(summary.channel_frequencies_hz) + summary.channel_width_hz / 2
    nyquist_arcsec = nyquist_scale_arcsec(summary)
    if scale_arcsec > nyquist_arcsec:
        raise MeasurementSetError(
            f"{what} is {scale_arcsec:g} arcsec, too coarse for Measurement Set "
            f"{summary.path}: its longest baseline ({summary.longest_baseline_m:.0f} "
            f"m at {highest_hz / 1e6:.1f} MHz) needs pixels of at most "
            f"{nyquist_arcsec:.2f} arcsec (half the finest fringe), or the image "
            f"cannot represent it; set {what} to {nyquist_arcsec:.2f} or less"
        )
