"""WSClean argument lists, built by pure functions: options in, list out.

Nothing here runs WSClean; `contimg.worker` does that. Keeping the two apart
lets the commands be tested without WSClean or a container engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from astropy.coordinates import SkyCoord

from contimg.errors import ConfigError
from contimg.skymodel import format_dec, format_ra

WSCLEAN = "wsclean"


@dataclass(frozen=True)
class ImageGeometry:
    """Size and pixel scale of an image, shared by draw-model and predict."""

    size: int
    """-size: image width and height in pixels."""
    scale_arcsec: float
    """-scale: pixel size in arcseconds."""

    def arguments(self) -> list[str]:
        """The -size and -scale arguments."""
        return [
            "-size",
            str(self.size),
            str(self.size),
            "-scale",
            arcsec(self.scale_arcsec),
        ]


@dataclass(frozen=True)
class Resources:
    """What the scheduler granted a job; every WSClean call states them."""

    threads: int
    """-j: number of threads."""
    memory_gb: float | None = None
    """-abs-mem: memory limit in GB (None leaves WSClean's default)."""
    temp_dir: Path | None = None
    """-temp-dir: where WSClean keeps reordered data and scratch files."""

    def arguments(self) -> list[str]:
        """The -j, -abs-mem and -temp-dir arguments."""
        arguments = ["-j", str(self.threads)]
        if self.memory_gb is not None:
            arguments += ["-abs-mem", f"{self.memory_gb:g}"]
        if self.temp_dir is not None:
            arguments += ["-temp-dir", str(self.temp_dir)]
        return arguments


@dataclass(frozen=True)
class DrawModelOptions:
    """Options of `wsclean -draw-model` that come from the config."""

    geometry: ImageGeometry
    channels_out: int = 1
    """Model images to draw, one per channel group of the band (as -channels-out)."""


@dataclass(frozen=True)
class PredictOptions:
    """Options of `wsclean -predict` that come from the config."""

    geometry: ImageGeometry
    channels_out: int = 1
    """-channels-out: number of model images predicted across the band."""
    padding: float = 2.0
    """-padding: the gridder's padding factor (WSClean's default is 1.2)."""


@dataclass(frozen=True)
class ChannelGroup:
    """The channels one model image stands for, as -channels-out splits the band."""

    index: int
    first_channel: int
    end_channel: int
    """One past the last channel."""
    centre_hz: float
    """Halfway between the group's outer channel edges."""
    bandwidth_hz: float


def channel_groups(
    frequencies_hz: Sequence[float], channel_width_hz: float, count: int
) -> list[ChannelGroup]:
    """Split a band's channels into count groups the way -channels-out does.

    Group g holds channels g*n//count up to (g+1)*n//count, in the order of
    increasing frequency, so the model drawn for a group is the one -predict
    uses for the same channels.
    """
    ordered = sorted(frequencies_hz)
    total = len(ordered)
    if not 1 <= count <= total:
        raise ConfigError(
            f"model_image.channels_out is {count}, but the set has {total} "
            f"channel(s); expected 1 to {total}; lower model_image.channels_out"
        )
    width = abs(channel_width_hz)
    groups = []
    for index in range(count):
        first, end = index * total // count, (index + 1) * total // count
        low = ordered[first] - width / 2
        high = ordered[end - 1] + width / 2
        groups.append(ChannelGroup(index, first, end, (low + high) / 2, high - low))
    return groups


def model_image_name(name: Path, group: int, channels_out: int) -> Path:
    """The model image -predict reads for a channel group: NAME[-000g]-model.fits."""
    infix = f"-{group:04d}" if channels_out > 1 else ""
    return name.with_name(f"{name.name}{infix}-model.fits")


@dataclass(frozen=True)
class CleanOptions:
    """Options of WSClean imaging and deconvolution that come from the config."""

    geometry: ImageGeometry
    data_column: str = "DATA"
    """-data-column: the column to image."""
    niter: int = 10000
    """-niter: maximum number of clean iterations."""
    mgain: float = 0.8
    """-mgain: major-cycle gain."""
    auto_threshold: float = 3.0
    """-auto-threshold: stop at this many sigma of the residual."""
    weight: tuple[str, ...] = ("briggs", "0")
    """-weight: weighting scheme and its parameters."""
    channels_out: int = 1
    """-channels-out: number of output channel images (joined when > 1)."""
    update_model: bool = False
    """Let WSClean write its clean model into MODEL_DATA (off keeps predict's)."""
    extra: tuple[str, ...] = field(default_factory=tuple)
    """Further WSClean arguments, verbatim; may not repeat the ones above."""


def arcsec(value: float) -> str:
    """A WSClean angle in arcseconds."""
    return f"{value:g}asec"


def check_argument_path(path: Path) -> str:
    """A path as a WSClean argument; refuse one WSClean would read as an option."""
    text = str(path)
    if text.startswith("-"):
        raise ConfigError(
            f"path {text!r} starts with '-', so WSClean would read it as an option; "
            "rename it or give it as an absolute path"
        )
    return text


def draw_model_command(
    sky_model: Path,
    name: Path,
    centre: SkyCoord,
    centre_frequency_hz: float,
    bandwidth_hz: float,
    options: DrawModelOptions,
    resources: Resources,
) -> list[str]:
    """`wsclean -draw-model`: render a sky model at one frequency to NAME-term-0.fits.

    One term image: the model's flux at centre_frequency_hz; draw one per
    channel group to follow the sky model's spectra across the band.
    """
    # WSClean 3.7's -draw-model hangs for ever with -j 1 (seen with 32 sources and
    # 1024 pixels); rendering is brief, so it gets two threads at least. Remove
    # once a WSClean release draws with one thread.
    drawing = replace(resources, threads=max(2, resources.threads))
    return [
        WSCLEAN,
        *drawing.arguments(),
        "-draw-model", check_argument_path(sky_model),
        "-name", check_argument_path(name),
        *options.geometry.arguments(),
        "-draw-centre", format_ra(centre.ra.deg), format_dec(centre.dec.deg),
        "-draw-frequencies", f"{centre_frequency_hz:.1f}", f"{bandwidth_hz:.1f}",
    ]  # fmt: skip


def predict_command(
    measurement_set: Path,
    name: Path,
    options: PredictOptions,
    resources: Resources,
) -> list[str]:
    """`wsclean -predict`: NAME[-000g]-model.fits into the set's MODEL_DATA column."""
    arguments = [WSCLEAN, *resources.arguments(), "-predict"]
    arguments += ["-name", check_argument_path(name), *options.geometry.arguments()]
    arguments += ["-padding", f"{options.padding:g}"]
    if options.channels_out > 1:
        arguments += ["-channels-out", str(options.channels_out)]
    return [*arguments, check_argument_path(measurement_set)]


def clean_command(
    measurement_set: Path,
    name: Path,
    options: CleanOptions,
    resources: Resources,
) -> list[str]:
    """WSClean imaging and deconvolution of one Measurement Set."""
    arguments = [WSCLEAN, *resources.arguments()]
    arguments += ["-name", check_argument_path(name), *options.geometry.arguments()]
    arguments += [
        "-data-column", options.data_column,
        "-niter", str(options.niter),
        "-mgain", f"{options.mgain:g}",
        "-auto-threshold", f"{options.auto_threshold:g}",
        "-weight", *options.weight,
    ]  # fmt: skip
    if options.channels_out > 1:
        arguments += ["-channels-out", str(options.channels_out), "-join-channels"]
    if not options.update_model:
        arguments.append("-no-update-model-required")

    refuse_repeated_options(options.extra, arguments)
    return [*arguments, *options.extra, check_argument_path(measurement_set)]


def option_names(arguments: Iterable[str]) -> set[str]:
    """The WSClean options (words that start with '-' and a letter) in a command."""
    return {word for word in arguments if re.fullmatch(r"-[a-z][a-z0-9-]*", word)}


# Options contimg sets itself, whether or not a given command carries them.
OWNED_OPTIONS = frozenset({
    "-j", "-abs-mem", "-mem", "-temp-dir", "-name", "-size", "-scale",
    "-data-column", "-niter", "-mgain", "-auto-threshold", "-weight",
    "-channels-out", "-join-channels", "-predict", "-draw-model",
    "-update-model-required", "-no-update-model-required",
})  # fmt: skip


def refuse_repeated_options(extra: Sequence[str], arguments: Sequence[str]) -> None:
    """Refuse extra arguments that repeat an option contimg already sets."""
    repeated = sorted(option_names(extra) & (option_names(arguments) | OWNED_OPTIONS))
    if repeated:
        raise ConfigError(
            f"clean.extra repeats {', '.join(repeated)}, which contimg already sets "
            "from its own config keys; set those keys instead of passing them in extra"
        )


def supported_options(usage: str) -> set[str]:
    """Options listed in the usage text WSClean prints when run without arguments."""
    return {match.group(1) for match in re.finditer(r"(?m)^(-[a-z][a-z0-9-]*)", usage)}


def image_names(name: Path, channels_out: int, kinds: Sequence[str]) -> list[Path]:
    """The FITS files WSClean writes for a prefix (the MFS ones when channels > 1)."""
    infix = "-MFS" if channels_out > 1 else ""
    return [name.with_name(f"{name.name}{infix}-{kind}.fits") for kind in kinds]
