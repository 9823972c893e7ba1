"""Write the bundled example: a simulated DSA-110 transit of the COSMOS field."""

from pathlib import Path

from contimg import logs
from contimg.snakemake_job import run_step
from contimg.steps import write_example_measurement_set

logs.configure(Path(snakemake.log[0]))
run_step(
    lambda: write_example_measurement_set(
        output=Path(snakemake.output.measurement_set),
        record=Path(snakemake.output.record),
        stations=Path(snakemake.input.stations),
        catalogue=Path(snakemake.input.catalogue),
        example_config=snakemake.params.example,
    )
)
