"""Source fluxes: sky-model sources measured in synthetic restored images."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contimg.errors import ImageError
from contimg.quicklook import ImagePlane, read_image_plane
from contimg.skymodel import Component, write_sky_model
from contimg.source_fluxes import measure_brightest, write_source_fluxes
from tests.images import gaussian_source, write_image

SIZE = 64
BEAM_PIXELS = 5.0  # 30 arcsec at 6 arcsec per pixel


def source_at(
    image: ImagePlane, name: str, x: float, y: float, flux: float, **spectrum: object
) -> Component:
    """A flat-spectrum sky-model component at pixel (x, y) of the image."""
    ra, dec = (float(v) for v in image.wcs.pixel_to_world_values(x, y))
    values: dict[str, object] = {
        "spectral_terms": (0.0,), "logarithmic": True, "reference_hz": 1.4e9
    }
    values.update(spectrum)
    return Component(name, ra, dec, flux, **values)  # type: ignore[arg-type]


@pytest.fixture
def images(tmp_path: Path) -> tuple[Path, Path]:
    """A restored image and clean model: 1 Jy on a pixel, 0.5 Jy between four."""
    restored = gaussian_source(SIZE, 20, 30, 1.0, BEAM_PIXELS) + gaussian_source(
        SIZE, 40.5, 20.5, 0.5, BEAM_PIXELS
    )
    clean_model = np.zeros((SIZE, SIZE))
    clean_model[30, 20] = 1.0
    clean_model[20:22, 40:42] = 0.125
    return (
        write_image(tmp_path / "image.fits", restored, beam_arcsec=30.0),
        write_image(tmp_path / "model.fits", clean_model),
    )


def test_an_on_grid_source_reads_its_flux_and_an_off_grid_one_reads_low(
    images: tuple[Path, Path],
) -> None:
    image, clean_model = (read_image_plane(path) for path in images)
    components = [
        source_at(image, "off_grid", 40.5, 20.5, 0.5),
        source_at(image, "on_grid", 20, 30, 1.0),
    ]

    on_grid, off_grid = measure_brightest(components, image, clean_model, count=5)

    assert on_grid.name == "on_grid"
    assert on_grid.restored_peak_jy_per_beam == pytest.approx(1.0, rel=1e-6)
    assert on_grid.clean_flux_jy == pytest.approx(1.0, rel=1e-6)
    assert on_grid.peak_offset_arcsec == pytest.approx(0.0, abs=1e-3)
    # Half a pixel off in both axes, at 5 pixels per beam: about 5 per cent low.
    assert 0.93 < off_grid.peak_over_model < 0.97
    assert off_grid.clean_flux_jy == pytest.approx(0.5, rel=1e-6)
    assert off_grid.peak_offset_arcsec == pytest.approx(6 * math.sqrt(0.5), rel=1e-3)


def test_the_brightest_at_the_images_frequency_come_first_and_count_is_kept(
    images: tuple[Path, Path],
) -> None:
    image, clean_model = (read_image_plane(path) for path in images)
    # 1.5 Jy at 700 MHz with index -1: 0.747 Jy at 1.405 GHz, fainter than 1 Jy.
    steep = source_at(
        image, "steep", 40.5, 20.5, 1.5, spectral_terms=(-1.0,), reference_hz=7e8
    )
    components = [steep, source_at(image, "flat", 20, 30, 1.0)]

    fluxes = measure_brightest(components, image, clean_model, count=1)

    assert [flux.name for flux in fluxes] == ["flat"]
    second = measure_brightest(components, image, clean_model, count=2)[1]
    assert second.model_flux_jy == pytest.approx(1.5 * 7e8 / 1.405e9)


def test_a_source_outside_the_image_has_no_measurement(
    images: tuple[Path, Path],
) -> None:
    image, clean_model = (read_image_plane(path) for path in images)
    far = source_at(image, "far", 200, 200, 2.0)

    (flux,) = measure_brightest([far], image, clean_model, count=1)

    assert math.isnan(flux.restored_peak_jy_per_beam)
    assert math.isnan(flux.clean_flux_jy)
    assert flux.model_flux_jy == pytest.approx(2.0)


def test_images_of_different_sizes_are_refused(tmp_path: Path) -> None:
    image = read_image_plane(
        write_image(tmp_path / "a.fits", np.zeros((16, 16)), beam_arcsec=30.0)
    )
    model = read_image_plane(write_image(tmp_path / "b.fits", np.zeros((8, 8))))

    with pytest.raises(ImageError, match="both must come from one clean"):
        measure_brightest([], image, model, count=1)


def test_the_table_is_written_as_csv_and_as_an_html_page(
    images: tuple[Path, Path], tmp_path: Path
) -> None:
    image = read_image_plane(images[0])
    sky_model = tmp_path / "sky_model.txt"
    components = [
        source_at(image, "on_grid", 20, 30, 1.0),
        source_at(image, "far", 200, 200, 0.1),
        source_at(image, "faintest", 40.5, 20.5, 0.01),
    ]
    write_sky_model(sky_model, components, 1.4e9)
    table, page = tmp_path / "out" / "fluxes.csv", tmp_path / "out" / "fluxes.html"

    write_source_fluxes(sky_model, *images, count=2, table_path=table, page_path=page)

    rows = pd.read_csv(table)
    assert list(rows["name"]) == ["on_grid", "far"]
    assert rows["restored_peak_jy_per_beam"][0] == pytest.approx(1.0, rel=1e-4)
    assert math.isnan(rows["clean_flux_jy"][1])
    text = page.read_text()
    assert text.count("<tr") == 3  # header and two sources
    assert "outside image" in text
    assert "within 1.5 pixels (9.0 arcsec)" in text
