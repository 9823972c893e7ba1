"""Synthetic FITS images laid out as WSClean writes them, for unit tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

CENTRE = (150.0, 1.7)
PIXEL_DEG = 6.0 / 3600
FREQUENCY_HZ = 1.405e9


def wsclean_header(size: int, *, beam_arcsec: float | None = None) -> fits.Header:
    """A header with RA---SIN, DEC--SIN, FREQ and STOKES axes, centred on CENTRE."""
    header = fits.Header()
    cards = {
        "BUNIT": "JY/BEAM",
        "CTYPE1": "RA---SIN", "CRPIX1": size / 2 + 1, "CRVAL1": CENTRE[0],
        "CDELT1": -PIXEL_DEG, "CUNIT1": "deg",
        "CTYPE2": "DEC--SIN", "CRPIX2": size / 2 + 1, "CRVAL2": CENTRE[1],
        "CDELT2": PIXEL_DEG, "CUNIT2": "deg",
        "CTYPE3": "FREQ", "CRPIX3": 1.0, "CRVAL3": FREQUENCY_HZ,
        "CDELT3": 16e6, "CUNIT3": "Hz",
        "CTYPE4": "STOKES", "CRPIX4": 1.0, "CRVAL4": 1.0, "CDELT4": 1.0,
    }  # fmt: skip
    header.update(cards)
    if beam_arcsec is not None:
        header.update(BMAJ=beam_arcsec / 3600, BMIN=beam_arcsec / 3600, BPA=0.0)
    return header


def wsclean_cube(plane: np.ndarray, frequency_planes: int = 1) -> np.ndarray:
    """A 2-D plane as the 4-D array (Stokes, frequency, Dec, RA) of a FITS image."""
    return np.broadcast_to(plane, (1, frequency_planes, *plane.shape)).astype(
        np.float32
    )


def write_image(
    path: Path, plane: np.ndarray, *, beam_arcsec: float | None = None
) -> Path:
    """Write a 2-D plane as a WSClean-like FITS image."""
    header = wsclean_header(plane.shape[0], beam_arcsec=beam_arcsec)
    if beam_arcsec is None:
        header["BUNIT"] = "JY/PIXEL"
    fits.PrimaryHDU(wsclean_cube(plane), header).writeto(path)
    return path


def gaussian_source(
    size: int, x: float, y: float, peak: float, fwhm_pixels: float
) -> np.ndarray:
    """A restored point source: a circular Gaussian beam scaled to its flux."""
    rows, columns = np.indices((size, size), dtype=float)
    sigma = fwhm_pixels / (2 * np.sqrt(2 * np.log(2)))
    return peak * np.exp(-((columns - x) ** 2 + (rows - y) ** 2) / (2 * sigma**2))
