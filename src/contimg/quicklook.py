"""Quick-look pictures of FITS images: WCS axes, a colour bar, the sky model on top.

Images are read as one celestial plane: the degenerate axes WSClean writes
(frequency, Stokes) are dropped from the pixels and from the WCS alike.
Pictures are drawn on the host with matplotlib's Agg canvas; no display needed.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.visualization import AsinhStretch, ImageNormalize
from astropy.wcs import WCS, FITSFixedWarning
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse

from contimg.errors import ImageError
from contimg.skymodel import Component, read_sky_model

logger = logging.getLogger(__name__)

DISPLAY_PIXELS = 560
"""About the width of the picture's image area in screen pixels."""

UNIT_NAMES = {"JY": "Jy", "BEAM": "beam", "PIXEL": "pixel"}
"""FITS BUNIT words as a reader writes them (WSClean writes JY/BEAM, JY/PIXEL)."""


@dataclass(frozen=True)
class Beam:
    """The restoring beam of a cleaned image (FITS BMAJ, BMIN, BPA)."""

    major_deg: float
    """Full width at half maximum along the major axis."""
    minor_deg: float
    position_angle_deg: float
    """East of north."""


@dataclass(frozen=True)
class ImagePlane:
    """One celestial plane of a FITS image, with what is needed to read it."""

    pixels: np.ndarray
    """2-D: pixels[y, x], with x and y the pixel axes of `wcs`."""
    wcs: WCS
    """The celestial WCS: two axes, longitude and latitude."""
    unit: str
    """BUNIT as written in the header (empty when missing)."""
    frequency_hz: float | None
    """Frequency at the plane's spectral pixel; None without a FREQ axis."""
    beam: Beam | None
    """The restoring beam; None for images that have none (model, PSF)."""

    @property
    def pixel_scale_deg(self) -> float:
        """Size of a pixel along the latitude axis, in degrees."""
        return float(np.abs(self.wcs.proj_plane_pixel_scales()[1].to_value("deg")))


def celestial_plane(data: np.ndarray, header: fits.Header, source: str) -> ImagePlane:
    """The celestial plane of an image whose other axes have one pixel each.

    `source` names the image in errors.
    """
    with warnings.catch_warnings():
        # WSClean leaves MJD-OBS out; astropy says so, and fills it from DATE-OBS.
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header)
    if not wcs.has_celestial or wcs.naxis != data.ndim:
        raise ImageError(
            f"{source} has no two celestial axes matching its {data.ndim}-D pixels "
            f"(CTYPEs {list(wcs.wcs.ctype)}); expected a sky image such as WSClean "
            "writes (RA---SIN, DEC--SIN, FREQ, STOKES)"
        )
    celestial_axes = {wcs.wcs.lng, wcs.wcs.lat}
    # numpy's axes run in the opposite order of the FITS (and WCS) axes.
    extra = [
        wcs.naxis - 1 - axis for axis in range(wcs.naxis) if axis not in celestial_axes
    ]
    for axis in extra:
        if data.shape[axis] != 1:
            ctype = wcs.wcs.ctype[wcs.naxis - 1 - axis]
            raise ImageError(
                f"{source} has {data.shape[axis]} planes along {ctype}; quick-looks "
                "and source fluxes need one (use WSClean's MFS image of a "
                "multi-channel clean)"
            )
    pixels = np.squeeze(data, axis=tuple(extra)).astype(float)
    return ImagePlane(
        pixels=pixels,
        wcs=wcs.celestial,
        unit=str(header.get("BUNIT", "")).strip(),
        frequency_hz=plane_frequency_hz(header, wcs.naxis),
        beam=restoring_beam(header),
    )


def plane_frequency_hz(header: fits.Header, axes: int) -> float | None:
    """The frequency of the first pixel along the FREQ axis, if the image has one."""
    for axis in range(1, axes + 1):
        if str(header.get(f"CTYPE{axis}", "")).upper().startswith("FREQ"):
            reference = float(header[f"CRVAL{axis}"])
            step = float(header.get(f"CDELT{axis}", 0.0))
            return reference + (1.0 - float(header.get(f"CRPIX{axis}", 1.0))) * step
    return None


def restoring_beam(header: fits.Header) -> Beam | None:
    """BMAJ, BMIN and BPA of the header, when it has a non-zero beam."""
    if "BMAJ" not in header or float(header["BMAJ"]) <= 0:
        return None
    return Beam(
        major_deg=float(header["BMAJ"]),
        minor_deg=float(header.get("BMIN", header["BMAJ"])),
        position_angle_deg=float(header.get("BPA", 0.0)),
    )


def read_image_plane(path: Path) -> ImagePlane:
    """The celestial plane of a FITS image file (primary HDU)."""
    if not path.is_file():
        raise ImageError(f"image {path} does not exist; run the step that makes it")
    try:
        with fits.open(path) as hdus:
            data, header = hdus[0].data, hdus[0].header
            if data is None:
                raise ImageError(
                    f"{path} holds no pixels in its primary HDU; expected an image"
                )
            return celestial_plane(np.asarray(data), header, str(path))
    except OSError as error:
        raise ImageError(
            f"{path} cannot be read as FITS ({error}); remake it by rerunning its "
            "step (snakemake --forcerun RULE)"
        ) from error


def display_limits(pixels: np.ndarray) -> tuple[float, float]:
    """Colour-scale limits: the 0.5th percentile to the maximum, never empty.

    The maximum keeps the brightest source unsaturated; the asinh stretch
    then lifts the faint parts. A blank image gets the range 0 to 1.
    """
    finite = pixels[np.isfinite(pixels)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = float(np.percentile(finite, 0.5)), float(finite.max())
    if high <= low:
        return low, low + 1.0
    return low, high


def unit_label(unit: str) -> str:
    """A BUNIT such as JY/BEAM written as a reader writes it: Jy/beam."""
    if not unit:
        return "pixel value"
    return "/".join(UNIT_NAMES.get(word.upper(), word) for word in unit.split("/"))


def sky_model_pixels(
    components: Sequence[Component], plane: ImagePlane
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel positions (x, y) of the components that fall inside the image."""
    if not components:
        return np.empty(0), np.empty(0)
    x, y = plane.wcs.world_to_pixel_values(
        np.array([c.ra_deg for c in components]),
        np.array([c.dec_deg for c in components]),
    )
    rows, columns = plane.pixels.shape
    inside = (x > -0.5) & (x < columns - 0.5) & (y > -0.5) & (y < rows - 0.5)
    return np.asarray(x)[inside], np.asarray(y)[inside]


def block_maximum(plane: ImagePlane, factor: int) -> ImagePlane:
    """The plane shrunk by `factor` along each axis, each block showing its maximum.

    A picture smaller than the image would drop or blur single bright pixels
    (a model image is mostly such pixels); the block maximum keeps every one.
    Rows and columns beyond a whole number of blocks are left out.
    """
    if factor <= 1:
        return plane
    rows, columns = (length // factor * factor for length in plane.pixels.shape)
    blocks = plane.pixels[:rows, :columns].reshape(
        rows // factor, factor, columns // factor, factor
    )
    return replace(
        plane,
        pixels=np.nanmax(blocks, axis=(1, 3)),
        wcs=plane.wcs[::factor, ::factor],
    )


def draw_quicklook(
    plane: ImagePlane, components: Sequence[Component], title: str
) -> Figure:
    """The quick-look figure: image, WCS axes, colour bar, sky model, beam."""
    plane = block_maximum(plane, math.ceil(max(plane.pixels.shape) / DISPLAY_PIXELS))
    figure = Figure(figsize=(7.5, 6.4), dpi=100, layout="constrained")
    axes = figure.add_subplot(projection=plane.wcs)
    vmin, vmax = display_limits(plane.pixels)
    norm = ImageNormalize(vmin=vmin, vmax=vmax, stretch=AsinhStretch(0.005))
    shown = axes.imshow(
        plane.pixels, origin="lower", cmap="inferno", norm=norm, interpolation="nearest"
    )
    colour_bar = figure.colorbar(shown, ax=axes, pad=0.01)
    colour_bar.set_label(unit_label(plane.unit))

    x, y = sky_model_pixels(components, plane)
    if x.size:
        axes.scatter(
            x, y, s=150, facecolors="none", edgecolors="cyan", linewidths=0.6,
            label=f"sky-model components: {x.size}",
        )  # fmt: skip
        axes.legend(loc="upper right", fontsize="small", framealpha=0.6)
    if plane.beam is not None:
        draw_beam(axes, plane.beam, plane.pixel_scale_deg, plane.pixels.shape[1])

    axes.set_xlabel("Right ascension (J2000)")
    axes.set_ylabel("Declination (J2000)")
    axes.coords.grid(color="white", alpha=0.25, linestyle="dotted")
    # A "$" in a file name would start matplotlib's math text.
    title = title.replace("$", r"\$")
    if plane.frequency_hz is not None:
        title = f"{title}  {plane.frequency_hz / 1e6:.1f} MHz"
    axes.set_title(title, fontsize="medium")
    return figure


def draw_beam(axes: Axes, beam: Beam, pixel_scale_deg: float, width_px: int) -> None:
    """The restoring beam as an ellipse in the lower left corner."""
    width, height = beam.minor_deg / pixel_scale_deg, beam.major_deg / pixel_scale_deg
    margin = max(width, height) / 2 + 0.03 * width_px
    axes.add_patch(
        Ellipse(
            (margin, margin), width, height, angle=beam.position_angle_deg,
            facecolor="none", edgecolor="white", linewidth=1.0,
        )
    )  # fmt: skip


def write_quicklook(
    image: Path, output: Path, components: Sequence[Component], title: str
) -> None:
    """Draw one FITS image as a PNG quick-look, whole or not at all."""
    figure = draw_quicklook(read_image_plane(image), components, title)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial.png")
    figure.savefig(partial, format="png")
    partial.replace(output)


def write_quicklooks(
    images: Sequence[Path], outputs: Sequence[Path], sky_model: Path
) -> None:
    """A quick-look PNG of each image, with the sky model's components on top."""
    if len(images) != len(outputs):
        raise ImageError(
            f"{len(images)} images but {len(outputs)} quick-look paths; the rule "
            "must name one PNG per FITS image, in the same order"
        )
    components = read_sky_model(sky_model)
    for image, output in zip(images, outputs, strict=True):
        started = time.monotonic()
        write_quicklook(image, output, components, title=image.name)
        logger.info("quick-look %s in %.1f s", output, time.monotonic() - started)
