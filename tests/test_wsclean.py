"""Command building: pure functions, tested without WSClean."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import pytest
from astropy.coordinates import SkyCoord

from contimg.errors import ConfigError
from contimg.wsclean import (
    CleanOptions,
    DrawModelOptions,
    ImageGeometry,
    PredictOptions,
    Resources,
    clean_command,
    draw_model_command,
    image_names,
    option_names,
    predict_command,
    supported_options,
)

GEOMETRY = ImageGeometry(size=512, scale_arcsec=6.0)
RESOURCES = Resources(threads=3, memory_gb=2.0, temp_dir=Path("/scratch/job/tmp"))


def value_after(arguments: list[str], option: str, count: int = 1) -> list[str]:
    index = arguments.index(option)
    return arguments[index + 1 : index + 1 + count]


def test_draw_model_takes_centre_and_band_from_its_arguments() -> None:
    centre = SkyCoord(ra=150.0 * u.deg, dec=1.7 * u.deg)
    arguments = draw_model_command(
        Path("/data/sky model.txt"),
        Path("/out/model"),
        centre,
        1.405e9,
        16e6,
        DrawModelOptions(geometry=GEOMETRY, spectral_terms=2),
        RESOURCES,
    )

    assert arguments[0] == "wsclean"
    assert value_after(arguments, "-draw-model") == ["/data/sky model.txt"]
    assert value_after(arguments, "-draw-centre", 2) == [
        "10:00:00.0000",
        "+01.42.00.000",
    ]
    assert value_after(arguments, "-draw-frequencies", 2) == [
        "1405000000.0",
        "16000000.0",
    ]
    assert value_after(arguments, "-draw-spectral-terms") == ["2"]
    assert value_after(arguments, "-size", 2) == ["512", "512"]
    assert value_after(arguments, "-scale") == ["6asec"]
    assert value_after(arguments, "-j") == ["3"]


def test_resources_become_threads_memory_and_temp_dir() -> None:
    arguments = predict_command(
        Path("/data/set.ms"), Path("/out/model"), PredictOptions(GEOMETRY), RESOURCES
    )

    assert value_after(arguments, "-j") == ["3"]
    assert value_after(arguments, "-abs-mem") == ["2"]
    assert value_after(arguments, "-temp-dir") == ["/scratch/job/tmp"]
    assert "-predict" in arguments
    assert arguments[-1] == "/data/set.ms"


def test_predict_without_memory_leaves_wsclean_default() -> None:
    arguments = predict_command(
        Path("/data/set.ms"),
        Path("/out/model"),
        PredictOptions(GEOMETRY),
        Resources(threads=1),
    )

    assert "-abs-mem" not in arguments
    assert "-temp-dir" not in arguments
    assert "-channels-out" not in arguments


def test_clean_keeps_model_data_unless_asked() -> None:
    options = CleanOptions(geometry=GEOMETRY, data_column="MODEL_DATA", niter=500)
    arguments = clean_command(Path("/d/set.ms"), Path("/o/img"), options, RESOURCES)

    assert "-no-update-model-required" in arguments
    assert value_after(arguments, "-data-column") == ["MODEL_DATA"]
    assert value_after(arguments, "-niter") == ["500"]
    assert value_after(arguments, "-weight", 2) == ["briggs", "0"]

    updating = CleanOptions(geometry=GEOMETRY, update_model=True)
    arguments = clean_command(Path("/d/set.ms"), Path("/o/img"), updating, RESOURCES)
    assert "-no-update-model-required" not in arguments


def test_clean_joins_channels_when_several_are_made() -> None:
    options = CleanOptions(geometry=GEOMETRY, channels_out=4)
    arguments = clean_command(Path("/d/set.ms"), Path("/o/img"), options, RESOURCES)

    assert value_after(arguments, "-channels-out") == ["4"]
    assert "-join-channels" in arguments


def test_clean_extra_goes_before_the_measurement_set() -> None:
    options = CleanOptions(geometry=GEOMETRY, extra=("-multiscale", "-local-rms"))
    arguments = clean_command(Path("/d/set.ms"), Path("/o/img"), options, RESOURCES)

    assert arguments[-3:] == ["-multiscale", "-local-rms", "/d/set.ms"]


def test_clean_extra_may_not_repeat_an_option_contimg_sets() -> None:
    options = CleanOptions(geometry=GEOMETRY, extra=("-niter", "5"))

    with pytest.raises(ConfigError, match="-niter"):
        clean_command(Path("/d/set.ms"), Path("/o/img"), options, RESOURCES)


def test_a_path_that_looks_like_an_option_is_refused() -> None:
    options = CleanOptions(geometry=GEOMETRY)

    with pytest.raises(ConfigError, match="starts with '-'"):
        clean_command(Path("-set.ms"), Path("/o/img"), options, RESOURCES)


def test_option_names_ignores_values_and_negative_numbers() -> None:
    names = option_names(["wsclean", "-scale", "6asec", "-shift", "-1.5", "-j", "2"])

    assert names == {"-scale", "-shift", "-j"}


def test_supported_options_reads_the_usage_listing() -> None:
    usage = "\n".join(
        [
            "-j <threads>",
            "   Specify number of threads",
            "-draw-model <input model>",
            "-predict",
            "  not -an-option at the start of a line",
        ]
    )

    assert supported_options(usage) == {"-j", "-draw-model", "-predict"}


def test_image_names_follow_wsclean_naming() -> None:
    single = image_names(Path("/o/img"), 1, ["image", "psf"])
    joined = image_names(Path("/o/img"), 3, ["image"])

    assert single == [Path("/o/img-image.fits"), Path("/o/img-psf.fits")]
    assert joined == [Path("/o/img-MFS-image.fits")]


def test_draw_model_never_asks_for_one_thread() -> None:
    """WSClean 3.7 hangs drawing with -j 1; see draw_model_command."""
    arguments = draw_model_command(
        Path("/d/sky.txt"),
        Path("/o/model"),
        SkyCoord(ra=1 * u.deg, dec=2 * u.deg),
        1.4e9,
        1e6,
        DrawModelOptions(geometry=GEOMETRY),
        Resources(threads=1),
    )

    assert value_after(arguments, "-j") == ["2"]


def test_clean_extra_may_not_set_channels_contimg_owns() -> None:
    options = CleanOptions(
        geometry=GEOMETRY, channels_out=1, extra=("-channels-out", "2")
    )

    with pytest.raises(ConfigError, match="-channels-out"):
        clean_command(Path("/d/set.ms"), Path("/o/img"), options, RESOURCES)
