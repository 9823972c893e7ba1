"""Catalogue sources around the Measurement Set's phase centre, as a sky model."""

from pathlib import Path

from contimg import logs
from contimg.snakemake_job import run_step
from contimg.steps import write_sky_model

logs.configure(Path(snakemake.log[0]))
run_step(
    lambda: write_sky_model(
        catalogue=Path(snakemake.input.catalogue),
        measurement_set_path=Path(snakemake.input.measurement_set),
        output=Path(snakemake.output.sky_model),
        selection_config=snakemake.params.selection,
    )
)
