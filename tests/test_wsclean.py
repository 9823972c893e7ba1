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
    channel_groups,
    clean_command,
    draw_model_command,
    image_names,
    model_image_name,
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
        DrawModelOptions(geometry=GEOMETRY, channels_out=4),
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
    assert "-draw-spectral-terms" not in arguments  # one term: the flux at 1.405 GHz
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


def test_channel_groups_split_the_band_as_channels_out_does() -> None:
    # 10 channels into 4 groups: WSClean's split is 2, 3, 2, 3 (g*n//count).
    frequencies = [1.0e9 + 1e6 * channel for channel in range(10)]
    groups = channel_groups(frequencies, 1e6, 4)

    assert [(g.first_channel, g.end_channel) for g in groups] == [
        (0, 2), (2, 5), (5, 7), (7, 10),
    ]  # fmt: skip
    assert groups[0].centre_hz == pytest.approx(1.0005e9)
    assert groups[0].bandwidth_hz == pytest.approx(2e6)
    assert groups[1].centre_hz == pytest.approx(1.003e9)
    assert groups[1].bandwidth_hz == pytest.approx(3e6)


def test_channel_groups_follow_frequency_in_a_descending_band() -> None:
    frequencies = [1.4e9 - 1e6 * channel for channel in range(4)]
    groups = channel_groups(frequencies, -1e6, 2)

    assert groups[0].centre_hz < groups[1].centre_hz
    assert groups[0].centre_hz == pytest.approx(1.3975e9)


def test_more_model_images_than_channels_is_refused_with_the_key_to_change() -> None:
    with pytest.raises(ConfigError, match=r"model_image.channels_out is 5.*4 channel"):
        channel_groups([1e9, 2e9, 3e9, 4e9], 1e9, 5)


def test_model_image_names_are_the_ones_predict_reads() -> None:
    assert model_image_name(Path("/s/m"), 0, 1) == Path("/s/m-model.fits")
    assert model_image_name(Path("/s/m"), 3, 8) == Path("/s/m-0003-model.fits")


def test_predict_pads_and_splits_the_band_like_the_drawn_models() -> None:
    arguments = predict_command(
        Path("/data/set.ms"),
        Path("/out/model"),
        PredictOptions(geometry=GEOMETRY, channels_out=8, padding=2.0),
        RESOURCES,
    )

    assert value_after(arguments, "-channels-out") == ["8"]
    assert value_after(arguments, "-padding") == ["2"]
