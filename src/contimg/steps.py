"""The pipeline's steps as typed functions; the rules' wrappers only call these.

Each WSClean step attaches to the run's worker (starting it when missing),
lets WSClean write into a staging directory of the job's own, and moves the
products into place only when every expected file exists.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from contimg import measurement_set, provenance, skymodel, slurm
from contimg.errors import ContimgError
from contimg.execution import Usage
from contimg.paths import (
    new_staging_directory,
    publish,
    remove_staging,
    require_under_roots,
)
from contimg.products import (
    check_free_space,
    check_model_images,
    image_bytes,
    visibility_bytes,
)
from contimg.run import RunIdentity, run_id_from_environment
from contimg.runtime import open_runtime
from contimg.worker import WorkerSettings
from contimg.wsclean import (
    ChannelGroup,
    CleanOptions,
    DrawModelOptions,
    PredictOptions,
    Resources,
    channel_groups,
    clean_command,
    draw_model_command,
    image_names,
    model_image_name,
    predict_command,
)

logger = logging.getLogger(__name__)

CLEAN_PRODUCTS = ("image", "residual", "model", "psf")

Builder = Callable[[Resources], list[str]]
"""Builds a WSClean argument list once the job's resources are known."""


@dataclass(frozen=True)
class StepContext:
    """What every WSClean step needs besides its own inputs and options."""

    worker: WorkerSettings
    scratch: Path
    """The scratch root: staging directories and WSClean's -temp-dir go here."""
    threads: int
    memory_mb: int | None
    label: str
    """A name for the job, used in its staging directory (e.g. clean-myset)."""
    log: TextIO | None = None
    """The rule's log file; WSClean's output is streamed into it."""
    usage_file: Path | None = None
    """Where to write what each command used inside the worker (CPU, memory),
    beside the rule's benchmark file, which sees only the exec client."""
    grant: slurm.Grant | None = None
    """In a SLURM job: what the run holds on this node (the worker's limits)."""


def run_wsclean(
    context: StepContext, staging: Path, builds: Sequence[Builder]
) -> provenance.Execution:
    """Attach to the worker, build the commands, run them in turn; say what ran."""
    runtime = open_runtime(context.worker)
    identity = RunIdentity.current(run_id_from_environment())
    started_here = runtime.ensure_worker(identity)
    if context.grant is not None and not started_here:
        runtime.fit_worker(identity)

    resources = Resources(
        threads=context.threads,
        memory_gb=None if context.memory_mb is None else context.memory_mb / 1024,
        temp_dir=staging / "tmp",
    )
    (staging / "tmp").mkdir()
    commands = [build(resources) for build in builds]
    if started_here:
        runtime.require_options(
            identity, [word for arguments in commands for word in arguments]
        )

    started, started_at = time.monotonic(), provenance.now()
    usage = [
        runtime.run(identity, arguments, workdir=staging, on_line=log_sink(context.log))
        for arguments in commands
    ]
    logger.info("%s done in %.1f s", context.label, time.monotonic() - started)
    worker = runtime.facts(identity)
    if context.usage_file is not None:
        write_usage(context.usage_file, commands, usage, worker.name)
    return provenance.Execution(
        commands=tuple(tuple(arguments) for arguments in commands),
        image=context.worker.image,
        image_id=worker.image_id,
        wsclean_version=worker.wsclean_version,
        worker=worker.name,
        run_id=identity.run_id,
        workdir=str(identity.workdir),
        started=started_at,
        finished=provenance.now(),
        usage=tuple(usage),
        runtime=worker.runtime,
        staging=str(staging.absolute()),
    )


def write_usage(
    path: Path,
    commands: Sequence[Sequence[str]],
    usage: Sequence[Usage | None],
    worker: str,
) -> None:
    """What each command used inside the worker, as JSON, with the totals."""
    known = [item for item in usage if item is not None]
    record = {
        "worker": worker,
        "measured": "inside the worker: CPU time of the command (user, system) "
        "and its peak resident memory (VmHWM, sampled every 0.5 s)",
        "commands": [
            {"arguments": list(arguments), **(asdict(item) if item else {})}
            for arguments, item in zip(commands, usage, strict=True)
        ],
        "cpu_s": round(sum(i.cpu_user_s + i.cpu_system_s for i in known), 2),
        "peak_rss_mb": max((i.peak_rss_mb for i in known), default=None),
        "wall_s": round(sum(i.wall_s for i in known), 2),
    }
    provenance.write_json(path, record)


def log_sink(log: TextIO | None) -> Callable[[str], None]:
    """Where a command's output lines go: the rule's log, or nowhere."""

    def write(line: str) -> None:
        if log is not None:
            log.write(line + "\n")

    return write


def staged_step(context: StepContext) -> Path:
    """A new staging directory for the job, under the scratch root."""
    require_under_roots(context.scratch, context.worker.roots, "scratch root")
    return new_staging_directory(context.scratch, context.label)


def write_sky_model(
    catalogue: Path,
    measurement_set_path: Path,
    output: Path,
    selection_config: Mapping[str, object],
) -> list[skymodel.Component]:
    """Catalogue sources around the set's phase centre, as a WSClean text sky model."""
    from contimg.config import sky_model_selection

    summary = measurement_set.read_summary(measurement_set_path)
    selection = sky_model_selection(selection_config, summary.phase_centre)
    components = skymodel.select_components(
        skymodel.read_catalogue(catalogue), selection
    )
    if not components and selection_config.get("allow_empty"):
        logger.warning(
            "no catalogue source lies within %s deg of the phase centre of %s above "
            "%s Jy: the sky model is empty (sky_model.allow_empty), and so will "
            "MODEL_DATA be",
            selection.radius_deg,
            measurement_set_path,
            selection.min_flux_jy,
        )
    elif not components:
        raise ContimgError(
            f"no source of catalogue {catalogue} lies within "
            f"{selection.radius_deg} deg of the phase centre of "
            f"{measurement_set_path} above {selection.min_flux_jy} Jy; widen "
            "sky_model.radius_deg or lower sky_model.min_flux_jy (or set "
            "sky_model.allow_empty: true if an empty model is what you want)"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    skymodel.write_sky_model(output, components, selection.reference_hz)
    logger.info("sky model %s: %d components", output, len(components))
    return components


def draw_model(
    sky_model: Path,
    measurement_set_path: Path,
    model_images: Sequence[Path],
    record: Path,
    options: DrawModelOptions,
    context: StepContext,
) -> None:
    """Render the sky model at the set's phase centre, one image per channel group.

    model_images are the products, in the order of the groups; -predict reads
    them under the names model_image_name gives.
    """
    roots = context.worker.roots
    sky_model = require_under_roots(sky_model, roots, "sky model")
    summary = measurement_set.read_summary(measurement_set_path)
    measurement_set.check_sampling(
        summary, options.geometry.scale_arcsec, "model_image.scale_arcsec"
    )
    groups = channel_groups(
        summary.channel_frequencies_hz, summary.channel_width_hz, options.channels_out
    )
    if len(model_images) != len(groups):
        raise ContimgError(
            f"draw_model was given {len(model_images)} output image(s) for "
            f"{len(groups)} channel group(s); the rule and model_image.channels_out "
            "must agree"
        )
    staging = staged_step(context)

    def builder(group: ChannelGroup) -> Builder:
        name = staging / f"group-{group.index:04d}"
        return lambda resources: draw_model_command(
            sky_model,
            name,
            summary.phase_centre,
            group.centre_hz,
            group.bandwidth_hz,
            options,
            resources,
        )

    try:
        execution = run_wsclean(context, staging, [builder(g) for g in groups])
        drawn = [staging / f"group-{g.index:04d}-term-0.fits" for g in groups]
        publish(zip(drawn, model_images, strict=True))
        provenance.write_record(
            record,
            "draw_model",
            execution,
            {**provenance.plain(options), "channel_groups": provenance.plain(groups)},
            [sky_model, measurement_set_path],
            model_images,
        )
    finally:
        remove_staging(staging)


def predict(
    measurement_set_path: Path,
    model_images: Sequence[Path],
    record: Path,
    options: PredictOptions,
    context: StepContext,
) -> None:
    """Predict the model images (one per channel group) into MODEL_DATA; then
    write the record."""
    roots = context.worker.roots
    measurement_set_path = require_under_roots(
        measurement_set_path, roots, "Measurement Set"
    )
    summary = measurement_set.read_summary(measurement_set_path)
    measurement_set.check_writable(measurement_set_path, "predict")
    measurement_set.check_sampling(
        summary, options.geometry.scale_arcsec, "model_image.scale_arcsec"
    )
    channel_groups(
        summary.channel_frequencies_hz, summary.channel_width_hz, options.channels_out
    )
    check_model_images(model_images, options.geometry, options.channels_out)
    if "MODEL_DATA" not in summary.columns:
        needed = visibility_bytes(
            summary.row_count,
            len(summary.channel_frequencies_hz),
            summary.correlation_count,
        )
        check_free_space(measurement_set_path, needed, "predict's MODEL_DATA")
    staging = staged_step(context)
    name = staging / "model"
    # -predict reads NAME-model.fits, or NAME-000g-model.fits per channel group.
    staged = [
        (image, model_image_name(name, group, options.channels_out))
        for group, image in enumerate(model_images)
    ]
    for image, staged_as in staged:
        shutil.copyfile(image, staged_as)

    try:
        execution = run_wsclean(
            context,
            staging,
            [lambda r: predict_command(measurement_set_path, name, options, r)],
        )
    finally:
        remove_staging(staging)
    # The set changed in place: the record, written last, is the step's output.
    provenance.write_record(
        record,
        "predict",
        execution,
        options,
        [*model_images, measurement_set_path],
        [measurement_set_path],
        staged=staged,
    )


def clean(
    measurement_set_path: Path,
    products: Mapping[str, Path],
    record: Path,
    options: CleanOptions,
    context: StepContext,
) -> None:
    """Image and deconvolve a column of the set; products keyed image, residual, ..."""
    roots = context.worker.roots
    measurement_set_path = require_under_roots(
        measurement_set_path, roots, "Measurement Set"
    )
    summary = measurement_set.read_summary(measurement_set_path)
    measurement_set.require_column(summary, options.data_column)
    measurement_set.check_not_all_flagged(measurement_set_path)
    if options.update_model:
        measurement_set.check_writable(measurement_set_path, "clean (update_model)")
    measurement_set.check_sampling(
        summary, options.geometry.scale_arcsec, "clean.scale_arcsec"
    )
    check_clean_space(summary, options, products, context.scratch)
    staging = staged_step(context)
    name = staging / "clean"

    try:
        execution = run_wsclean(
            context,
            staging,
            [lambda r: clean_command(measurement_set_path, name, options, r)],
        )
        kinds = list(products)
        written = image_names(name, options.channels_out, kinds)
        publish(
            (source, products[kind])
            for source, kind in zip(written, kinds, strict=True)
        )
        provenance.write_record(
            record,
            "clean",
            execution,
            options,
            [measurement_set_path],
            list(products.values()),
        )
    finally:
        remove_staging(staging)


def check_clean_space(
    summary: measurement_set.MeasurementSetSummary,
    options: CleanOptions,
    products: Mapping[str, Path],
    scratch: Path,
) -> None:
    """Refuse a clean whose images (and WSClean's temporary files) would not fit."""
    planes = 1 + (options.channels_out if options.channels_out > 1 else 0)
    images = image_bytes(options.geometry, len(products) * planes)
    visibilities = visibility_bytes(
        summary.row_count,
        len(summary.channel_frequencies_hz),
        summary.correlation_count,
    )
    destination = next(iter(products.values())).parent
    check_free_space(destination, images, "clean's images")
    check_free_space(scratch, images + visibilities, "clean's staging and temp files")


def write_example_measurement_set(
    output: Path,
    record: Path,
    stations: Path,
    catalogue: Path,
    example_config: Mapping[str, object],
) -> None:
    """The bundled example: a simulated DSA-110 transit whose DATA hold the catalogue.

    The simulated sky is the catalogue's sources selected by the example's own
    keys (radius, flux cut, spectrum) around its phase centre. `record`, written
    last, says what the set holds; the set's steps depend on it, so a rewritten
    set reruns them (the set itself is an ancient() input of theirs).
    """
    from contimg.config import example_centre, sky_model_selection
    from contimg.example import ExampleSettings, write_dsa110_measurement_set

    centre = example_centre(example_config)
    selection = sky_model_selection(example_config, centre)
    components = skymodel.select_components(
        skymodel.read_catalogue(catalogue), selection
    )
    example = ExampleSettings(
        phase_centre_ra_deg=centre.ra.deg,
        phase_centre_dec_deg=centre.dec.deg,
        integrations=int(example_config["integrations"]),  # type: ignore[call-overload]
        channels=int(example_config["channels"]),  # type: ignore[call-overload]
        max_stations=example_config.get("max_stations"),  # type: ignore[arg-type]
    )
    started = time.monotonic()
    write_dsa110_measurement_set(output, stations, components, settings=example)
    logger.info(
        "example Measurement Set %s written in %.1f s (%d sources in DATA)",
        output,
        time.monotonic() - started,
        len(components),
    )
    facts = {
        "measurement_set": str(output.absolute()),
        "written": provenance.now(),
        "settings": dict(example_config),
        "sources_in_data": len(components),
    }
    provenance.write_json(record, facts)
