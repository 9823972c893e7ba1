# Host-side pictures and tables for `snakemake --report`: no WSClean, no worker.


def model_image_label(group):
    """The report's name of a model image: its channel group when there are several."""
    return f"model image {group:04d}" if MODEL_CHANNELS > 1 else "model image"


rule quicklook_model:
    # In the Measurement Set's SLURM job, after its clean.
    group:
        "measurement_set"
    input:
        images=rules.draw_model.output.model_images,
        sky_model=rules.sky_model.output.sky_model,
    output:
        quicklooks=[
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
    log:
        "logs/{ms}/quicklook_model.log",
    script:
        "../scripts/quicklook.py"


rule quicklook_clean:
    # In the Measurement Set's SLURM job, after its clean.
    group:
        "measurement_set"
    input:
        images=[rules.clean.output[product] for product in CLEAN_PRODUCTS],
        sky_model=rules.sky_model.output.sky_model,
    output:
        quicklooks=[
            report(
                f"{RESULTS}/{{ms}}/quicklook/clean/{{ms}}-{product}.png",
                caption="../report/quicklook_clean.rst",
                category="Quick-looks",
                subcategory="{ms}",
                labels={"image": f"clean {product}"},
            )
            for product in CLEAN_PRODUCTS
        ],
    log:
        "logs/{ms}/quicklook_clean.log",
    script:
        "../scripts/quicklook.py"


rule source_fluxes:
    # In the Measurement Set's SLURM job, after its clean.
    group:
        "measurement_set"
    input:
        sky_model=rules.sky_model.output.sky_model,
        image=rules.clean.output.image,
        clean_model=rules.clean.output.model,
    output:
        page=report(
            f"{RESULTS}/{{ms}}/source_fluxes.html",
            caption="../report/source_fluxes.rst",
            category="Source fluxes",
            subcategory="{ms}",
            labels={"table": "brightest sources"},
        ),
        table=report(
            f"{RESULTS}/{{ms}}/source_fluxes.csv",
            caption="../report/source_fluxes.rst",
            category="Source fluxes",
            subcategory="{ms}",
            labels={"table": "brightest sources (CSV)"},
        ),
    log:
        "logs/{ms}/source_fluxes.log",
    params:
        brightest_sources=config["report"]["brightest_sources"],
    script:
        "../scripts/source_fluxes.py"
