"""Quick-looks: one celestial plane out of a WSClean FITS image, and its picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from contimg.errors import ImageError
from contimg.quicklook import (
    block_maximum,
    celestial_plane,
    display_limits,
    draw_quicklook,
    read_image_plane,
    unit_label,
    write_quicklooks,
)
from contimg.skymodel import Component, write_sky_model
from tests.images import CENTRE, FREQUENCY_HZ, write_image, wsclean_cube, wsclean_header


def point(name: str, ra_deg: float, dec_deg: float, flux: float = 1.0) -> Component:
    return Component(name, ra_deg, dec_deg, flux, (-0.7,), True, 1.4e9)


def test_the_frequency_and_stokes_axes_are_dropped_from_pixels_and_wcs() -> None:
    plane = np.arange(8 * 10, dtype=float).reshape(8, 10)

    image = celestial_plane(wsclean_cube(plane), wsclean_header(10), "test image")

    assert image.pixels.shape == (8, 10)
    np.testing.assert_array_equal(image.pixels, plane)
    assert image.wcs.naxis == 2
    assert list(image.wcs.wcs.ctype) == ["RA---SIN", "DEC--SIN"]
    assert image.frequency_hz == FREQUENCY_HZ
    assert image.unit == "JY/BEAM"
    ra, dec = image.wcs.pixel_to_world_values(5, 5)
    assert (float(ra), float(dec)) == pytest.approx(CENTRE)


def test_the_frequency_is_read_at_the_planes_pixel() -> None:
    header = wsclean_header(10)
    header.update(CRPIX3=2.0, CRVAL3=1.4e9, CDELT3=1e6)

    image = celestial_plane(wsclean_cube(np.zeros((10, 10))), header, "test image")

    assert image.frequency_hz == pytest.approx(1.399e9)


def test_an_image_with_several_channels_is_refused_naming_the_axis() -> None:
    cube = wsclean_cube(np.zeros((10, 10)), frequency_planes=3)

    with pytest.raises(ImageError, match=r"cube\.fits has 3 planes along FREQ"):
        celestial_plane(cube, wsclean_header(10), "cube.fits")


def test_a_header_without_celestial_axes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "spectrum.fits"
    fits.PrimaryHDU(np.zeros(16, dtype=np.float32)).writeto(path)

    with pytest.raises(ImageError, match=r"spectrum\.fits has no two celestial axes"):
        read_image_plane(path)


def test_a_missing_image_is_named(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"absent\.fits does not exist"):
        read_image_plane(tmp_path / "absent.fits")


def test_the_beam_is_read_from_a_restored_image(tmp_path: Path) -> None:
    path = write_image(tmp_path / "image.fits", np.zeros((16, 16)), beam_arcsec=30.0)

    image = read_image_plane(path)

    assert image.beam is not None
    assert image.beam.major_deg * 3600 == pytest.approx(30.0)
    assert image.pixel_scale_deg * 3600 == pytest.approx(6.0)


def test_display_limits_are_never_empty() -> None:
    assert display_limits(np.zeros((4, 4))) == (0.0, 1.0)
    assert display_limits(np.full((4, 4), np.nan)) == (0.0, 1.0)
    low, high = display_limits(np.linspace(-1.0, 9.0, 1001))
    assert high == 9.0
    assert low == pytest.approx(-0.95)


def test_units_are_written_as_a_reader_writes_them() -> None:
    assert unit_label("JY/BEAM") == "Jy/beam"
    assert unit_label("JY/PIXEL") == "Jy/pixel"
    assert unit_label("") == "pixel value"


def test_a_block_maximum_keeps_a_single_bright_pixel_where_it_was() -> None:
    pixels = np.zeros((16, 16))
    pixels[7, 5] = 3.0
    image = celestial_plane(wsclean_cube(pixels), wsclean_header(16), "test image")
    ra, dec = image.wcs.pixel_to_world_values(5, 7)

    shrunk = block_maximum(image, 2)

    assert shrunk.pixels.shape == (8, 8)
    assert shrunk.pixels[3, 2] == 3.0
    x, y = shrunk.wcs.world_to_pixel_values(ra, dec)
    assert (round(float(x)), round(float(y))) == (2, 3)


def test_the_picture_circles_the_sky_model_inside_the_image() -> None:
    image = celestial_plane(
        wsclean_cube(np.zeros((64, 64))), wsclean_header(64), "test image"
    )
    inside = [point("a", *CENTRE), point("b", CENTRE[0], CENTRE[1] + 0.02)]
    outside = [point("far", CENTRE[0], CENTRE[1] + 5.0)]

    figure = draw_quicklook(image, inside + outside, "test image")

    assert figure.axes[0].get_title() == r"test image  1405.0 MHz"
    legend = figure.axes[0].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [
        "sky-model components: 2"
    ]
    assert figure.axes[1].get_ylabel() == "Jy/beam"


def test_quick_looks_are_written_as_pngs(tmp_path: Path) -> None:
    image = write_image(tmp_path / "image.fits", np.eye(32), beam_arcsec=30.0)
    model = write_image(tmp_path / "model.fits", np.eye(32))
    sky_model = tmp_path / "sky_model.txt"
    write_sky_model(sky_model, [point("a", *CENTRE)], 1.4e9)
    outputs = [tmp_path / "quicklook" / "image.png", tmp_path / "quicklook" / "m.png"]

    write_quicklooks([image, model], outputs, sky_model)

    for output in outputs:
        assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(path.name for path in outputs[0].parent.iterdir()) == [
        "image.png",
        "m.png",
    ]


def test_a_dollar_in_the_file_name_is_drawn_as_it_is(tmp_path: Path) -> None:
    image = write_image(tmp_path / "set$^$.fits", np.zeros((16, 16)))
    sky_model = write_empty_sky_model(tmp_path)

    write_quicklooks([image], [tmp_path / "set$^$.png"], sky_model)

    assert (tmp_path / "set$^$.png").stat().st_size > 0


def write_empty_sky_model(directory: Path) -> Path:
    path = directory / "empty_sky_model.txt"
    write_sky_model(path, [], 1.4e9)
    return path
