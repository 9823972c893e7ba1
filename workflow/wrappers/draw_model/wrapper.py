"""Render the sky model to model images, one per channel group, in the worker."""

from pathlib import Path

from contimg.config import draw_model_options
from contimg.snakemake_job import run_step, step_context
from contimg.steps import draw_model

run_step(
    lambda: draw_model(
        sky_model=Path(snakemake.input.sky_model),
        measurement_set_path=Path(snakemake.input.measurement_set),
        model_images=[Path(path) for path in snakemake.output.model_images],
        record=Path(snakemake.output.record),
        options=draw_model_options(snakemake.params.model_image),
        context=step_context(snakemake, "draw_model"),
    )
)
