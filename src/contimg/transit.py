"""The geometry of a transit observation: when the field transits, and UVW.

UVW are J2000 (u, v, w) in metres from casacore.measures; astropy finds the
transit from its bundled IERS data and never downloads anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np
import numpy.typing as npt
from astropy.coordinates import TETE, EarthLocation, SkyCoord
from astropy.time import Time
from astropy.utils import iers
from astropy.utils.data import conf as data_conf
from casacore.measures import measures
from casacore.quanta import quantity

from contimg.dsa110 import Stations

if TYPE_CHECKING:
    from contimg.example import ExampleSettings

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]

SIDEREAL_DEG_PER_S = 360.0 / 86164.0905


@contextmanager
def offline_astropy() -> Iterator[None]:
    """Use only astropy's bundled IERS data: the machine may have no network."""
    with (
        iers.conf.set_temp("auto_download", False),
        iers.conf.set_temp("iers_degraded_accuracy", "warn"),
        data_conf.set_temp("allow_internet", False),
    ):
        yield


def apparent_hour_angle_deg(
    time: Time, ra_deg: float, dec_deg: float, longitude_deg: float
) -> float:
    """Hour angle of a J2000 direction: local apparent sidereal time - apparent RA."""
    with offline_astropy():
        direction = SkyCoord(
            ra_deg * u.deg, dec_deg * u.deg, frame="fk5", equinox="J2000"
        )
        apparent = direction.transform_to(TETE(obstime=time))
        sidereal = time.sidereal_time("apparent", longitude=longitude_deg * u.deg)
        return float((sidereal - apparent.ra).wrap_at(180 * u.deg).deg)


def transit_time(settings: ExampleSettings, centre: EarthLocation) -> Time:
    """First transit of the phase centre at the array centre on the settings' date."""
    longitude = float(centre.lon.deg)
    moment = Time(settings.observation_date.isoformat(), scale="utc")
    for step in range(3):
        hour_angle = apparent_hour_angle_deg(
            moment,
            settings.phase_centre_ra_deg,
            settings.phase_centre_dec_deg,
            longitude,
        )
        # First jump forward to the transit of that day; then small corrections.
        to_go = (-hour_angle) % 360.0 if step == 0 else -hour_angle
        moment = moment + (to_go / SIDEREAL_DEG_PER_S) * u.s
    return moment


def integration_centres_s(settings: ExampleSettings, transit: Time) -> FloatArray:
    """TIME of each integration (MJD seconds, UTC) with the transit in the middle."""
    transit_s = float(transit.utc.mjd) * 86400.0
    offsets = np.arange(settings.integrations, dtype=np.float64) + 0.5
    offsets -= settings.integrations / 2
    return transit_s + offsets * settings.integration_s


def antenna_uvw_m(
    stations: Stations, times_s: FloatArray, settings: ExampleSettings
) -> FloatArray:
    """J2000 (u, v, w) of each station relative to the array centre, per time.

    Shape (ntime, nstation, 3). casacore converts the ITRF vectors to J2000, so
    precession, nutation and aberration are those CASA would apply. casacore may
    log "Leap second table TAI_UTC seems out-of-date" once the clock passes the
    bundled table's validity date; no leap second has been added since 2017, so
    times before the table's last entry are unaffected.
    """
    dm = measures()
    centre = stations.array_centre_m
    dm.do_frame(dm.position("itrf", *[quantity(value, "m") for value in centre]))
    dm.do_frame(
        dm.direction(
            "j2000",
            quantity(settings.phase_centre_ra_deg, "deg"),
            quantity(settings.phase_centre_dec_deg, "deg"),
        )
    )
    # Relative to the centre the vectors are short, so no precision is lost
    # subtracting two geocentric ones; the conversion is linear either way.
    offsets = stations.itrf_m - centre
    baselines = dm.baseline(
        "itrf", *[quantity(offsets[:, axis], "m") for axis in range(3)]
    )

    uvw = np.empty((times_s.size, len(stations.names), 3))
    for index, time_s in enumerate(times_s):
        dm.do_frame(dm.epoch("utc", quantity(float(time_s), "s")))
        converted = dm.to_uvw(baselines)["xyz"].get_value("m")
        uvw[index] = np.asarray(converted, dtype=np.float64).reshape(-1, 3)
    return uvw


def baseline_pairs(nstation: int) -> tuple[IntArray, IntArray]:
    """ANTENNA1 < ANTENNA2 for every cross-correlation, in the usual order."""
    first, second = np.triu_indices(nstation, k=1)
    return first.astype(np.int32), second.astype(np.int32)
