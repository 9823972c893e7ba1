"""Compare MODEL_DATA with a direct Fourier transform of the sky model."""

from pathlib import Path

from contimg import logs
from contimg.snakemake_job import run_step
from contimg.verification import Limits, verify_model

logs.configure(Path(snakemake.log[0]))
run_step(
    lambda: verify_model(
        measurement_set_path=Path(snakemake.input.measurement_set),
        sky_model=Path(snakemake.input.sky_model),
        report_path=Path(snakemake.output.report),
        plot_path=Path(snakemake.output.plot),
        model_image=snakemake.params.model_image,
        limits=Limits(
            median=float(snakemake.params.verify["max_median"]),
            p99=float(snakemake.params.verify["max_p99"]),
        ),
        failed_report=Path(snakemake.params.failed_report),
    )
)
