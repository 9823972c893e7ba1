"""From the workflow's config (already validated against its schema) to typed settings.

Relative paths in the config are relative to the working directory of the run.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import astropy.units as u
from astropy.coordinates import SkyCoord

from contimg.errors import ConfigError, PathOutsideRootsError
from contimg.paths import require_under_roots
from contimg.skymodel import Selection
from contimg.worker import WorkerSettings
from contimg.wsclean import (
    CleanOptions,
    DrawModelOptions,
    ImageGeometry,
    PredictOptions,
)

Config = Mapping[str, Any]


logger = logging.getLogger(__name__)


def absolute(path: str | Path, workdir: Path) -> Path:
    """A config path made absolute against the working directory, links kept."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else workdir / candidate


def data_roots(config: Config, workdir: Path) -> tuple[Path, ...]:
    """Every host directory the worker mounts: inputs, results and scratch."""
    roots = config["roots"]
    paths = [*roots["inputs"], roots["results"], roots["scratch"]]
    return tuple(dict.fromkeys(absolute(path, workdir).resolve() for path in paths))


def worker_settings(config: Config, workdir: Path) -> WorkerSettings:
    """The worker section of the config, with its data roots resolved."""
    worker = config["worker"]
    return WorkerSettings(
        image=str(worker["image"]),
        roots=data_roots(config, workdir),
        runtime=str(worker.get("runtime", "docker")),
        socket=worker.get("socket"),
        memory_mb=worker.get("memory_mb"),
        pids_limit=int(worker.get("pids_limit", 4096)),
        engine_timeout_s=float(worker.get("engine_timeout_s", 60)),
        stop_timeout_s=float(worker.get("stop_timeout_s", 30)),
        idle_timeout_s=float(worker.get("idle_timeout_s", 900)),
    )


def scratch_root(config: Config, workdir: Path) -> Path:
    """Where jobs stage WSClean's outputs and temporary files."""
    return absolute(config["roots"]["scratch"], workdir).resolve()


def geometry(section: Config) -> ImageGeometry:
    """Size and scale of an image, from a config section that has both."""
    return ImageGeometry(
        size=int(section["size"]), scale_arcsec=float(section["scale_arcsec"])
    )


def draw_model_options(model_image: Config) -> DrawModelOptions:
    """Options of the draw_model step, from the config's model_image section."""
    return DrawModelOptions(
        geometry=geometry(model_image),
        channels_out=int(model_image["channels_out"]),
    )


def predict_options(model_image: Config) -> PredictOptions:
    """Options of the predict step, from the config's model_image section."""
    return PredictOptions(
        geometry=geometry(model_image),
        channels_out=int(model_image["channels_out"]),
        padding=float(model_image["padding"]),
    )


def clean_options(clean: Config) -> CleanOptions:
    """Options of the clean step, from the config's clean section."""
    weight = clean["weight"]
    return CleanOptions(
        geometry=geometry(clean),
        data_column=str(clean["data_column"]),
        niter=int(clean["niter"]),
        mgain=float(clean["mgain"]),
        auto_threshold=float(clean["auto_threshold"]),
        weight=tuple(
            str(part) for part in (weight if isinstance(weight, list) else [weight])
        ),
        channels_out=int(clean["channels_out"]),
        update_model=bool(clean["update_model"]),
        extra=tuple(str(argument) for argument in clean.get("extra", [])),
    )


def sky_model_selection(sky_model: Config, centre: SkyCoord) -> Selection:
    """Which catalogue sources the sky model around `centre` keeps."""
    return Selection(
        centre=centre,
        radius_deg=float(sky_model["radius_deg"]),
        min_flux_jy=float(sky_model["min_flux_jy"]),
        spectral_index=float(sky_model["spectral_index"]),
        reference_hz=float(sky_model["reference_frequency_hz"]),
        max_sources=sky_model.get("max_sources"),
    )


def example_centre(example: Config) -> SkyCoord:
    """The phase centre the example Measurement Set is written for."""
    return SkyCoord(
        ra=float(example["ra_deg"]) * u.deg, dec=float(example["dec_deg"]) * u.deg
    )


def check_sections(config: Config, workdir: Path, schema: Path) -> None:
    """Refuse a config that lacks whole sections, saying where the defaults are
    read from: Snakemake reads config/config.yaml from the working directory,
    so under --directory the repository's defaults are not read."""
    import yaml

    required = yaml.safe_load(schema.read_text()).get("required", [])
    missing = [key for key in required if key not in config]
    if not missing:
        return
    defaults = workdir / "config" / "config.yaml"
    where = (
        f"{defaults} does not exist"
        if not defaults.is_file()
        else f"{defaults} does not set them"
    )
    raise ConfigError(
        f"the config lacks {', '.join(missing)}: the defaults are read from "
        f"config/config.yaml in the working directory, and {where}; with "
        "--directory DIR, copy the repository's config/ into DIR and edit it, or "
        "pass a --configfile that sets every section (config/README.md lists them)"
    )


def check_consistency(config: Config) -> None:
    """Refuse combinations that the schema alone cannot express; warn of those
    that may work but are likely mistakes."""
    worker_mb = config["worker"].get("memory_mb")
    wsclean_mb = config.get("wsclean", {}).get("mem_mb", 4000)
    if worker_mb is not None and wsclean_mb > worker_mb:
        logger.warning(
            "wsclean.mem_mb (%s) is more than worker.memory_mb (%s): WSClean "
            "plans for memory the worker cannot give and may be killed; lower "
            "wsclean.mem_mb or raise worker.memory_mb",
            wsclean_mb,
            worker_mb,
        )
    for section in ("model_image", "clean"):
        size = int(config[section]["size"])
        if size % 2:
            raise ConfigError(
                f"{section}.size is {size}, an odd number, which WSClean silently "
                f"rounds; use an even size such as {size + 1}"
            )


def read_measurement_sets(table_path: Path, workdir: Path) -> dict[str, str]:
    """The config's table of Measurement Sets: name to path (as written there)."""
    import pandas as pd

    if not absolute(table_path, workdir).is_file():
        raise ConfigError(
            f"measurement_sets table {table_path} does not exist; expected a "
            "tab-separated file with the columns name and path"
        )
    # Tab-separated, quotes taken literally: paths may contain them.
    table = pd.read_csv(
        absolute(table_path, workdir),
        sep="\t",
        dtype=str,
        comment="#",
        quoting=csv.QUOTE_NONE,
    )
    missing = {"name", "path"} - set(table.columns)
    if missing:
        found = ", ".join(map(repr, table.columns))
        raise ConfigError(
            f"measurement_sets table {table_path} lacks the column(s) "
            f"{', '.join(sorted(missing))} (its header holds {found}); expected a "
            "header line 'name<TAB>path', with a tab, not spaces, between them"
        )
    if table.empty:
        raise ConfigError(
            f"measurement_sets table {table_path} lists no Measurement Set; add a "
            "line per set (name, a tab, its path) below the header"
        )
    duplicated = sorted(set(table["name"][table["name"].duplicated()]))
    if duplicated:
        raise ConfigError(
            f"measurement_sets table {table_path} names {', '.join(duplicated)} more "
            "than once; give every Measurement Set its own name"
        )
    bad = [name for name in table["name"] if "/" in name or name.startswith(".")]
    if bad:
        raise ConfigError(
            f"measurement_sets table {table_path}: the name(s) {', '.join(bad)} may "
            "not contain '/' or start with '.'; names become folder names"
        )
    resolved = [absolute(path, workdir).resolve() for path in table["path"]]
    seen: dict[Path, str] = {}
    for name, path in zip(table["name"], resolved, strict=True):
        if path in seen:
            raise ConfigError(
                f"measurement_sets table {table_path} lists {path} twice (as "
                f"{seen[path]!r} and {name!r}); two steps writing MODEL_DATA into "
                "one set would collide: list each set once"
            )
        seen[path] = name
    return dict(zip(table["name"], table["path"], strict=True))


def is_example_set(path: str | Path, config: Config, workdir: Path) -> bool:
    """Whether a set's path is the example's, which the workflow writes."""
    example = config.get("example", {}).get("measurement_set")
    return example is not None and absolute(path, workdir) == absolute(example, workdir)


def check_listed_sets(
    sets: dict[str, str], table_path: Path, workdir: Path, config: Config
) -> None:
    """Refuse, before planning (so that a dry run refuses too), a listed set
    that is missing, is not a casacore table, or lies outside the data roots.

    The example's set is exempt while it is missing: the workflow writes it.
    Only the file system is looked at: no engine, no casacore.
    """
    roots = data_roots(config, workdir)
    for name, path in sets.items():
        full = absolute(path, workdir)
        if not full.exists():
            if is_example_set(path, config, workdir):
                continue
            raise ConfigError(
                f"measurement_sets table {table_path} lists {name!r} at {full}, "
                "which does not exist; correct its path in the table (relative "
                f"paths are taken from {workdir}), or remove its line"
            )
        if not (full / "table.dat").is_file():
            kind = "a directory without table.dat" if full.is_dir() else "a file"
            raise ConfigError(
                f"measurement_sets table {table_path} lists {name!r} at {full}, "
                f"which is {kind}, not a Measurement Set (a casacore table "
                "directory holding table.dat); list the set's directory"
            )
        try:
            require_under_roots(full, roots, "Measurement Set")
        except PathOutsideRootsError as error:
            # A mistyped root is named as such (results and scratch are made
            # at the run's start; the input roots must exist).
            inputs = (absolute(root, workdir) for root in config["roots"]["inputs"])
            missing = [str(root) for root in inputs if not root.exists()]
            if missing:
                raise ConfigError(
                    f"the data root(s) {', '.join(missing)} do not exist; check "
                    f"roots.inputs in the config: it must hold {name!r} ({full})"
                ) from error
            raise ConfigError(
                f"measurement_sets table {table_path} lists {name!r}: {error}"
            ) from error


def prepare_roots(config: Config, workdir: Path) -> None:
    """Create the results and scratch roots, and the folder of the example set.

    Other input roots must exist already: a typo in one must not quietly
    become a new, empty folder.
    """
    roots = config["roots"]
    for key in ("results", "scratch"):
        absolute(roots[key], workdir).mkdir(parents=True, exist_ok=True)
    example = config.get("example", {}).get("measurement_set")
    if example is None:
        return
    example_path = absolute(example, workdir)
    for root in roots["inputs"]:
        folder = absolute(root, workdir)
        if example_path.is_relative_to(folder):
            folder.mkdir(parents=True, exist_ok=True)
