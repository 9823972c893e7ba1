# contimg: catalogue -> sky model -> draw_model -> predict -> clean, with every
# WSClean call made in one worker container per run (see README.md).

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/worker.smk"
include: "workflow/rules/example.smk"
include: "workflow/rules/sky_model.smk"
include: "workflow/rules/draw_model.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/clean.smk"
include: "workflow/rules/verify.smk"
include: "workflow/rules/summary.smk"


rule all:
    default_target: True
    input:
        get_final_outputs(),
