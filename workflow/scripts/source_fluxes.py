"""The brightest sky-model sources and their fluxes in the cleaned image."""

from pathlib import Path

from contimg import logs
from contimg.snakemake_job import run_step
from contimg.source_fluxes import write_source_fluxes

logs.configure(Path(snakemake.log[0]))
run_step(
    lambda: write_source_fluxes(
        sky_model=Path(snakemake.input.sky_model),
        image=Path(snakemake.input.image),
        clean_model=Path(snakemake.input.clean_model),
        count=int(snakemake.params.brightest_sources),
        table_path=Path(snakemake.output.table),
        page_path=Path(snakemake.output.page),
    )
)
