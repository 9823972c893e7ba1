"""Model images predict reads, and the free-space estimate, on real FITS files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from contimg.errors import ContimgError
from contimg.products import check_free_space, check_model_images
from contimg.wsclean import ImageGeometry

GEOMETRY = ImageGeometry(size=32, scale_arcsec=6.0)


def model_image(path: Path, size: int = 32, scale_arcsec: float = 6.0) -> Path:
    """A model image laid out as WSClean writes one (4 axes, degrees)."""
    header = fits.Header()
    header["CDELT1"] = -scale_arcsec / 3600
    header["CDELT2"] = scale_arcsec / 3600
    pixels = np.zeros((1, 1, size, size), dtype=np.float32)
    pixels[0, 0, size // 2, size // 2] = 1.0
    fits.PrimaryHDU(pixels, header).writeto(path)
    return path


def test_a_matching_model_image_passes(tmp_path: Path) -> None:
    check_model_images([model_image(tmp_path / "m.fits")], GEOMETRY, 1)


def test_non_finite_pixels_are_refused_with_the_channel(tmp_path: Path) -> None:
    path = model_image(tmp_path / "m.fits")
    with fits.open(path, mode="update") as hdus:
        hdus[0].data[0, 0, 3, 4] = np.nan

    with pytest.raises(ContimgError, match=r"channel 0\) has 1 pixel"):
        check_model_images([path], GEOMETRY, 1)


def test_a_model_drawn_at_another_scale_is_refused(tmp_path: Path) -> None:
    path = model_image(tmp_path / "m.fits", scale_arcsec=4.0)

    with pytest.raises(ContimgError, match="pixels of 4 arcsec, but predict uses"):
        check_model_images([path], GEOMETRY, 1)


def test_a_channel_count_that_differs_from_predicts_is_refused(tmp_path: Path) -> None:
    path = model_image(tmp_path / "m.fits")

    with pytest.raises(ContimgError, match="expects 2 model image"):
        check_model_images([path], GEOMETRY, 2)


def test_a_step_that_would_not_fit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ContimgError, match=r"needs about .* MiB in"):
        check_free_space(tmp_path / "not yet made", 2**62, "clean's images")
    check_free_space(tmp_path, 1024, "clean's images")
