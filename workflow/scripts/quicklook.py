"""Quick-look PNGs of a step's FITS images, with the sky model on top."""

from pathlib import Path

from contimg import logs
from contimg.quicklook import write_quicklooks
from contimg.snakemake_job import run_step

logs.configure(Path(snakemake.log[0]))
run_step(
    lambda: write_quicklooks(
        images=[Path(path) for path in snakemake.input.images],
        outputs=[Path(path) for path in snakemake.output.quicklooks],
        sky_model=Path(snakemake.input.sky_model),
    )
)
