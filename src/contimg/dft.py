"""Visibilities of point components by a direct Fourier transform (DFT).

This is an independent predictor: it does not use WSClean, so comparing its
output with WSClean's MODEL_DATA (or imaging a set whose DATA it wrote) tests
the imaging chain rather than repeating it.

Conventions, the ones WSClean's -predict uses for MODEL_DATA (the integration
test of the example compares the two, so a change of convention fails there):

- (u, v, w) in metres as stored in a Measurement Set's UVW column, that is for
  the baseline from ANTENNA1 to ANTENNA2: position(ANTENNA2) - position(ANTENNA1)
  projected onto the (u, v, w) axes of the phase centre (u east, v north, w
  towards the phase centre).
- Direction cosines of a component relative to the phase centre (ra0, dec0), by
  the orthographic (SIN) projection, with dra = ra - ra0:
  l = cos(dec) sin(dra),
  m = sin(dec) cos(dec0) - cos(dec) sin(dec0) cos(dra),
  n = sqrt(1 - l**2 - m**2).
- V(u, v, w, f) = sum over components of
  S(f) exp(+2 pi i (u l + v m + w (n - 1)) f / c),
  with the positive sign in the exponent and the w-term with (n - 1), so that a
  component at the phase centre has the constant, real visibility S(f).
- A GAUSSIAN component with full widths at half maximum a (major) and b (minor)
  and orientation p (position angle of the major axis, north through east)
  multiplies its term by exp(-2 pi**2 (s_a**2 u_a**2 + s_b**2 u_b**2)), with
  s = FWHM / sqrt(8 ln 2) in radians and, in wavelengths,
  u_a = u sin(p) + v cos(p) (along the major axis),
  u_b = u cos(p) - v sin(p) (along the minor axis).
  The Gaussian integrates to the component's flux, so it is the flux at zero
  spacing, as in WSClean's rendering.
- The result is the Stokes I visibility. With linear feeds and the CASA
  definition I = (XX + YY) / 2, an unpolarised component gives XX = YY = V.
- No primary beam, no smearing: the visibility is that at the centre of the
  channel and of the integration.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from contimg.errors import ContimgError
from contimg.skymodel import Component

logger = logging.getLogger(__name__)

SPEED_OF_LIGHT_M_S = 299792458.0

DEFAULT_CHUNK_ELEMENTS = 2_000_000
"""Rows x components x channels handled at once: 32 MB of complex128 values."""

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]


def direction_cosines(
    components: Sequence[Component],
    phase_centre_ra_deg: float,
    phase_centre_dec_deg: float,
) -> FloatArray:
    """(l, m, n - 1) of each component relative to the phase centre, shape (ncomp, 3).

    Raises ContimgError for a component 90 degrees or more from the phase
    centre, where the SIN projection has no meaning.
    """
    ra = np.radians([component.ra_deg for component in components])
    dec = np.radians([component.dec_deg for component in components])
    ra0 = math.radians(phase_centre_ra_deg)
    dec0 = math.radians(phase_centre_dec_deg)

    delta_ra = ra - ra0
    l_cos = np.cos(dec) * np.sin(delta_ra)
    m_cos = np.sin(dec) * math.cos(dec0) - np.cos(dec) * math.sin(dec0) * np.cos(
        delta_ra
    )
    # The sign of n is that of the component's projection onto the phase centre.
    towards = np.sin(dec) * math.sin(dec0) + np.cos(dec) * math.cos(dec0) * np.cos(
        delta_ra
    )

    behind = np.flatnonzero(towards <= 0.0)
    if behind.size:
        names = ", ".join(components[index].name for index in behind[:5])
        raise ContimgError(
            f"component(s) {names} lie 90 degrees or more from the phase centre "
            f"(RA {phase_centre_ra_deg} deg, Dec {phase_centre_dec_deg} deg); "
            "expected every component in the hemisphere around the phase centre; "
            "drop them from the sky model or choose another phase centre"
        )

    # Written as (l^2 + m^2) / (n + 1) to keep precision for components close to
    # the phase centre, where 1 - sqrt(...) would cancel.
    n_minus_one = -(l_cos**2 + m_cos**2) / (towards + 1.0)
    return np.stack([l_cos, m_cos, n_minus_one], axis=1)


def component_fluxes(
    components: Sequence[Component], frequencies_hz: FloatArray
) -> FloatArray:
    """Stokes I flux density of each component in each channel, shape (ncomp, nchan)."""
    fluxes = np.empty((len(components), frequencies_hz.size), dtype=np.float64)
    for index, component in enumerate(components):
        fluxes[index] = np.asarray(component.flux_at(frequencies_hz), dtype=float)
    return fluxes


FWHM_TO_SIGMA = 1.0 / math.sqrt(8.0 * math.log(2.0))


def gaussian_axes(components: Sequence[Component]) -> tuple[FloatArray, FloatArray]:
    """Per component: unit vectors along the major and minor axes in (u, v), and
    2 pi**2 sigma**2 along each (radians squared), shapes (ncomp, 2, 2) and (ncomp, 2).

    A point component has zero widths, so its taper is 1.
    """
    axes = np.zeros((len(components), 2, 2), dtype=np.float64)
    widths = np.zeros((len(components), 2), dtype=np.float64)
    for index, component in enumerate(components):
        shape = component.shape
        if shape is None:
            continue
        angle = math.radians(shape.orientation_deg)
        axes[index, 0] = (math.sin(angle), math.cos(angle))
        axes[index, 1] = (math.cos(angle), -math.sin(angle))
        sigmas = (
            np.radians(np.array([shape.major_arcsec, shape.minor_arcsec]) / 3600.0)
            * FWHM_TO_SIGMA
        )
        widths[index] = 2.0 * math.pi**2 * sigmas**2
    return axes, widths


def rows_per_chunk(ncomponents: int, nchannels: int, chunk_elements: int) -> int:
    """How many rows to transform at once so that memory stays bounded."""
    return max(1, chunk_elements // max(1, ncomponents * nchannels))


def check_inputs(uvw_m: FloatArray, frequencies_hz: FloatArray) -> None:
    """Refuse UVW and frequency arrays of the wrong shape."""
    if uvw_m.ndim != 2 or uvw_m.shape[1] != 3:
        raise ContimgError(
            f"UVW array has shape {uvw_m.shape}; expected (nrow, 3) in metres, "
            "as the UVW column of a Measurement Set; pass one (u, v, w) per row"
        )
    if frequencies_hz.ndim != 1:
        raise ContimgError(
            f"frequency array has shape {frequencies_hz.shape}; expected (nchan,) "
            "in Hz, as one row of CHAN_FREQ; pass a one-dimensional array"
        )


def predict_visibilities(
    components: Sequence[Component],
    phase_centre_ra_deg: float,
    phase_centre_dec_deg: float,
    uvw_m: npt.ArrayLike,
    frequencies_hz: npt.ArrayLike,
    *,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> ComplexArray:
    """Stokes I visibilities (Jy) of point and Gaussian components, (nrow, nchan).

    uvw_m: (nrow, 3) in metres, Measurement Set convention (see the module
    docstring); frequencies_hz: (nchan,). Rows are transformed in chunks of at
    most chunk_elements rows x components x channels, so memory stays bounded.
    """
    uvw = np.asarray(uvw_m, dtype=np.float64)
    frequencies = np.asarray(frequencies_hz, dtype=np.float64)
    check_inputs(uvw, frequencies)
    visibilities = np.zeros((uvw.shape[0], frequencies.size), dtype=np.complex128)
    if not components or uvw.shape[0] == 0:
        return visibilities

    lmn = direction_cosines(components, phase_centre_ra_deg, phase_centre_dec_deg)
    fluxes = component_fluxes(components, frequencies)
    # Phase per metre of path difference in each channel, sign of the convention.
    wavenumbers = 2.0 * math.pi * frequencies / SPEED_OF_LIGHT_M_S
    axes, widths = gaussian_axes(components)
    extended = bool(np.any(widths > 0.0))
    # Wavelengths per metre, squared, per channel: turns metres into wavelengths.
    inverse_wavelength_sq = (frequencies / SPEED_OF_LIGHT_M_S) ** 2

    step = rows_per_chunk(len(components), frequencies.size, chunk_elements)
    for start in range(0, uvw.shape[0], step):
        stop = min(start + step, uvw.shape[0])
        path_m = uvw[start:stop] @ lmn.T
        phases = path_m[:, :, np.newaxis] * wavenumbers
        # cos and sin straight into one complex array: faster and smaller than
        # np.exp(1j * phases), which needs a complex copy of phases first.
        fringes = np.empty(phases.shape, dtype=np.complex128)
        np.cos(phases, out=fringes.real)
        np.sin(phases, out=fringes.imag)
        if extended:
            # (rows, comps, 2): baseline projected onto each component's axes, in m.
            along = np.einsum("rx,kax->rka", uvw[start:stop, :2], axes)
            exponent = np.einsum("rka,ka->rk", along**2, widths)
            fringes *= np.exp(-exponent[:, :, np.newaxis] * inverse_wavelength_sq)
        visibilities[start:stop] = np.einsum("rkc,kc->rc", fringes, fluxes)

    logger.debug(
        "predicted %d rows x %d channels from %d components in chunks of %d rows",
        uvw.shape[0],
        frequencies.size,
        len(components),
        step,
    )
    return visibilities
