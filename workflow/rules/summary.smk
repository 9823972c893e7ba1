# Host-side pictures and tables for `snakemake --report`: no WSClean, no worker.


def model_image_label(group):
    """The report's name of a model image: its channel group when there are several."""
    return f"model image {group:04d}" if MODEL_CHANNELS > 1 else "model image"


# One rule, after clean: in a set's SLURM group job it then never runs beside a
# WSClean step, so the job asks for what that step needs and no more (Snakemake
# sums the resources of a group's jobs that could run at once).
rule summary:
    input:
        model_images=rules.draw_model.output.model_images,
        clean_images=[rules.clean.output[product] for product in CLEAN_PRODUCTS],
        restored_image=rules.clean.output.image,
        clean_model=rules.clean.output.model,
        sky_model=rules.sky_model.output.sky_model,
    output:
        model_quicklooks=[
            report(
                path,
                caption="../report/quicklook_model.rst",
                category="Quick-looks",
                subcategory="{ms}",
                labels={"image": model_image_label(group)},
            )
            for group, path in enumerate(
                model_quicklooks(f"{RESULTS}/{{ms}}/quicklook/model/{{ms}}")
            )
        ],
        clean_quicklooks=[
            report(
                f"{RESULTS}/{{ms}}/quicklook/clean/{{ms}}-{product}.png",
                caption="../report/quicklook_clean.rst",
                category="Quick-looks",
                subcategory="{ms}",
                labels={"image": f"clean {product}"},
            )
            for product in CLEAN_PRODUCTS
        ],
        source_fluxes_page=report(
            f"{RESULTS}/{{ms}}/source_fluxes.html",
            caption="../report/source_fluxes.rst",
            category="Source fluxes",
            subcategory="{ms}",
            labels={"table": "brightest sources"},
        ),
        source_fluxes_table=report(
            f"{RESULTS}/{{ms}}/source_fluxes.csv",
            caption="../report/source_fluxes.rst",
            category="Source fluxes",
            subcategory="{ms}",
            labels={"table": "brightest sources (CSV)"},
        ),
    log:
        "logs/{ms}/summary.log",
    benchmark:
        "benchmarks/{ms}/summary.tsv"
    # In the Measurement Set's SLURM job, after its clean.
    group:
        "measurement_set"
    params:
        brightest_sources=config["report"]["brightest_sources"],
    script:
        "../scripts/summary.py"
