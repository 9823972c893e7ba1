"""Image and deconvolve a Measurement Set with WSClean in the run's worker."""

from pathlib import Path

from contimg.config import clean_options
from contimg.snakemake_job import run_step, step_context
from contimg.steps import CLEAN_PRODUCTS, clean

run_step(
    lambda: clean(
        measurement_set_path=Path(snakemake.input.measurement_set),
        products={
            kind: Path(getattr(snakemake.output, kind)) for kind in CLEAN_PRODUCTS
        },
        record=Path(snakemake.output.record),
        options=clean_options(snakemake.params.clean),
        context=step_context(snakemake, "clean"),
    )
)
