"""A set's summary for the report: quick-looks of its model and cleaned images,
and the fluxes of its brightest sky-model sources in the cleaned image."""

from pathlib import Path

from contimg import logs
from contimg.quicklook import write_quicklooks
from contimg.snakemake_job import run_step
from contimg.source_fluxes import write_source_fluxes


def paths(names):
    return [Path(name) for name in names]


def summarise():
    sky_model = Path(snakemake.input.sky_model)
    write_quicklooks(
        images=paths(snakemake.input.model_images),
        outputs=paths(snakemake.output.model_quicklooks),
        sky_model=sky_model,
    )
    write_quicklooks(
        images=paths(snakemake.input.clean_images),
        outputs=paths(snakemake.output.clean_quicklooks),
        sky_model=sky_model,
    )
    write_source_fluxes(
        sky_model=sky_model,
        image=Path(snakemake.input.restored_image),
        clean_model=Path(snakemake.input.clean_model),
        count=int(snakemake.params.brightest_sources),
        table_path=Path(snakemake.output.source_fluxes_table),
        page_path=Path(snakemake.output.source_fluxes_page),
    )


logs.configure(Path(snakemake.log[0]))
run_step(summarise)
