"""The model's visibilities into MODEL_DATA: `wsclean -predict` in the worker."""

from pathlib import Path

from contimg.config import predict_options
from contimg.snakemake_job import run_step, step_context
from contimg.steps import predict

run_step(
    lambda: predict(
        measurement_set_path=Path(snakemake.input.measurement_set),
        model_images=[Path(path) for path in snakemake.input.model_images],
        record=Path(snakemake.output.record),
        options=predict_options(snakemake.params.model_image),
        context=step_context(snakemake, "predict"),
    )
)
