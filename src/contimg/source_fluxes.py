"""Fluxes of the brightest sky-model sources, measured in the cleaned image.

Two measurements per source, around the sky model's position:

- the restored image's peak (Jy/beam): its brightest pixel within 1.5 pixels
  of the position. For a point source this is its flux density when it sits
  on a pixel centre; an off-grid source reads low, by a few per cent for an
  offset of half a pixel at about three pixels per beam;
- the clean flux (Jy): the sum of WSClean's clean components within half the
  restoring beam's major axis (at least 1.5 pixels). Components of an
  off-grid source spread over neighbouring pixels, so the sum has no such loss.

Both take in a neighbour: a faint source on the wing of a bright one reads high.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from contimg.errors import ImageError
from contimg.quicklook import ImagePlane, read_image_plane
from contimg.skymodel import Component, read_sky_model

logger = logging.getLogger(__name__)

PEAK_RADIUS_PIXELS = 1.5
"""The restored peak is searched for within this distance of the position."""


@dataclass(frozen=True)
class SourceFlux:
    """One sky-model source and what the cleaned image shows at its position."""

    name: str
    ra_deg: float
    dec_deg: float
    model_flux_jy: float
    """The sky model's flux density at the image's frequency."""
    restored_peak_jy_per_beam: float
    """The restored image's peak within the aperture; NaN outside the image."""
    clean_flux_jy: float
    """The clean components' sum within the aperture; NaN outside the image."""
    peak_offset_arcsec: float
    """Distance from the sky model's position to the restored peak's pixel."""

    @property
    def peak_over_model(self) -> float:
        """The restored peak as a fraction of the model flux."""
        if self.model_flux_jy == 0:
            return float("nan")
        return self.restored_peak_jy_per_beam / self.model_flux_jy


def clean_radius_pixels(image: ImagePlane) -> float:
    """Half the restoring beam's major axis in pixels, at least 1.5 pixels."""
    if image.beam is None:
        return PEAK_RADIUS_PIXELS
    return max(image.beam.major_deg / 2 / image.pixel_scale_deg, PEAK_RADIUS_PIXELS)


def aperture(shape: tuple[int, ...], x: float, y: float, radius: float) -> np.ndarray:
    """Boolean mask of the pixels whose centres lie within radius of (x, y)."""
    rows, columns = np.indices(shape)
    return np.asarray((columns - x) ** 2 + (rows - y) ** 2 <= radius**2)


def measure_source(
    component: Component,
    image: ImagePlane,
    clean_model: ImagePlane,
    clean_radius: float,
) -> SourceFlux:
    """Measure one component at its position in the restored image and clean model."""
    frequency = image.frequency_hz or component.reference_hz
    x, y = (float(v) for v in image.wcs.world_to_pixel_values(
        component.ra_deg, component.dec_deg
    ))  # fmt: skip
    near = aperture(image.pixels.shape, x, y, PEAK_RADIUS_PIXELS)
    peak = offset = clean = float("nan")
    if near.any():
        inside = np.where(near, image.pixels, -np.inf)
        row, column = np.unravel_index(np.argmax(inside), inside.shape)
        peak = float(image.pixels[row, column])
        offset = float(np.hypot(column - x, row - y)) * image.pixel_scale_deg * 3600
        disc = aperture(image.pixels.shape, x, y, clean_radius)
        clean = float(clean_model.pixels[disc].sum())
    return SourceFlux(
        name=component.name,
        ra_deg=component.ra_deg,
        dec_deg=component.dec_deg,
        model_flux_jy=float(component.flux_at(frequency)),
        restored_peak_jy_per_beam=peak,
        clean_flux_jy=clean,
        peak_offset_arcsec=offset,
    )


def measure_brightest(
    components: Sequence[Component],
    image: ImagePlane,
    clean_model: ImagePlane,
    count: int,
) -> list[SourceFlux]:
    """The `count` sources brightest at the image's frequency, measured."""
    if image.pixels.shape != clean_model.pixels.shape:
        raise ImageError(
            f"the restored image has {image.pixels.shape} pixels but the clean "
            f"model {clean_model.pixels.shape}; both must come from one clean"
        )
    frequency = image.frequency_hz
    ranked = sorted(
        components,
        key=lambda c: float(c.flux_at(frequency or c.reference_hz)),
        reverse=True,
    )
    radius = clean_radius_pixels(image)
    return [measure_source(c, image, clean_model, radius) for c in ranked[:count]]


def flux_table(fluxes: Sequence[SourceFlux]) -> pd.DataFrame:
    """The measurements as a table, one row per source, brightest first."""
    rows = [
        {**asdict(flux), "peak_over_model": flux.peak_over_model} for flux in fluxes
    ]
    columns = [*SourceFlux.__dataclass_fields__, "peak_over_model"]
    return pd.DataFrame(rows, columns=columns)


def method_note(image: ImagePlane) -> str:
    """One paragraph saying how the fluxes were measured, for the HTML page."""
    scale_arcsec = image.pixel_scale_deg * 3600
    radius = clean_radius_pixels(image)
    frequency = (
        "the sky model's reference frequency"
        if image.frequency_hz is None
        else f"{image.frequency_hz / 1e6:.3f} MHz, the image's frequency"
    )
    return (
        f"Model flux: the sky model's spectrum at {frequency}. Restored peak: "
        f"the cleaned image's brightest pixel within {PEAK_RADIUS_PIXELS} pixels "
        f"({PEAK_RADIUS_PIXELS * scale_arcsec:.1f} arcsec) of the sky-model "
        "position; a source off the pixel grid reads a few per cent low. Clean "
        f"flux: the clean components within {radius * scale_arcsec:.1f} arcsec "
        f"({radius:.1f} pixels, half the restoring beam's major axis) of the "
        "position, summed. A neighbour within a beam adds to both."
    )


def flux_page(table: pd.DataFrame, title: str, note: str) -> str:
    """A small self-contained HTML page holding the table."""
    body = table.to_html(
        index=False, float_format=lambda value: f"{value:.4g}", na_rep="outside image"
    )
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:1.5em;color:#1e293b}"
        "table{border-collapse:collapse;font-size:0.85em}"
        "th,td{border:1px solid #cbd5e1;padding:0.25em 0.6em;text-align:right}"
        "th{background:#f1f5f9}td:first-child{text-align:left}"
        "p{max-width:60em}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(note)}</p>\n{body}\n"
        "</body></html>\n"
    )


def write_source_fluxes(
    sky_model: Path,
    image: Path,
    clean_model: Path,
    count: int,
    table_path: Path,
    page_path: Path,
) -> list[SourceFlux]:
    """Measure the brightest sources; write the table as CSV and as an HTML page."""
    restored = read_image_plane(image)
    fluxes = measure_brightest(
        read_sky_model(sky_model), restored, read_image_plane(clean_model), count
    )
    table = flux_table(fluxes)
    title = f"Brightest sky-model sources in {image.name}"

    for path, text in (
        (table_path, table.to_csv(index=False, float_format="%.6g")),
        (page_path, flux_page(table, title, method_note(restored))),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    logger.info("fluxes of %d sources: %s, %s", len(fluxes), table_path, page_path)
    return fluxes
