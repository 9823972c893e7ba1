"""Checks on what the WSClean steps read and write: model images and disk space."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.io import fits

from contimg.errors import ContimgError, StepOutputError
from contimg.wsclean import ImageGeometry

FLOAT_BYTES = 4
COMPLEX_BYTES = 8
HEADROOM = 1.2
"""Free space wanted beyond the estimate, as a factor."""


def check_model_images(
    images: Sequence[Path], geometry: ImageGeometry, channels_out: int
) -> None:
    """Refuse model images predict cannot use as they are.

    They must be as many as predict's channels, drawn with predict's size and
    pixel scale, and hold only finite pixels.
    """
    if len(images) != channels_out:
        raise ContimgError(
            f"predict expects {channels_out} model image(s) but was given "
            f"{len(images)}; draw_model and predict must agree on the channels"
        )
    for channel, image in enumerate(images):
        if not image.is_file():
            raise StepOutputError(
                f"model image {image} (channel {channel}) does not exist; rerun "
                "draw_model"
            )
        with fits.open(image, memmap=False) as hdus:
            header, pixels = hdus[0].header, np.asarray(hdus[0].data)
        check_geometry(image, header, geometry)
        bad = int(np.count_nonzero(~np.isfinite(pixels)))
        if bad:
            raise ContimgError(
                f"model image {image} (channel {channel}) has {bad} pixel(s) that "
                "are not finite numbers (NaN or infinity), which predict would "
                "spread over every visibility; check the sky model's fluxes and "
                "spectral terms, then rerun draw_model"
            )


def check_geometry(image: Path, header: fits.Header, geometry: ImageGeometry) -> None:
    """Refuse a model image drawn with another size or pixel scale than predict's."""
    size = (int(header["NAXIS1"]), int(header["NAXIS2"]))
    scale_arcsec = abs(float(header["CDELT2"])) * 3600
    if size != (geometry.size, geometry.size) or not np.isclose(
        scale_arcsec, geometry.scale_arcsec, rtol=1e-6
    ):
        raise ContimgError(
            f"model image {image} is {size[0]} x {size[1]} pixels of "
            f"{scale_arcsec:g} arcsec, but predict uses {geometry.size} x "
            f"{geometry.size} of {geometry.scale_arcsec:g} arcsec; rerun draw_model "
            "with the same model_image settings"
        )


def image_bytes(geometry: ImageGeometry, count: int) -> int:
    """Bytes of `count` single-precision images of the given geometry."""
    return count * geometry.size * geometry.size * FLOAT_BYTES


def visibility_bytes(rows: int, channels: int, correlations: int) -> int:
    """Bytes of one complex visibility column."""
    return rows * channels * correlations * COMPLEX_BYTES


def check_free_space(folder: Path, needed_bytes: int, what: str) -> None:
    """Refuse to start a step whose output would not fit on the file system."""
    probe = folder
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed_bytes * HEADROOM:
        raise ContimgError(
            f"{what} needs about {needed_bytes / 2**20:.0f} MiB in {folder}, but its "
            f"file system has {free / 2**20:.0f} MiB free; free some space or point "
            "roots at a larger file system"
        )
