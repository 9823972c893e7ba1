import os
from pathlib import Path

from snakemake.utils import validate

from contimg import config as settings
from contimg.image_lock import lock_path, locked_id
from contimg.run import enter_run
from contimg.steps import CLEAN_PRODUCTS
from contimg.wsclean import model_image_name

settings.check_sections(
    config,
    Path.cwd(),
    Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml",
)
validate(config, schema="../schemas/config.schema.yaml")
settings.check_consistency(config)

# Every job of this run (child processes of this one) inherits the run's identity.
RUN_ID = enter_run()
WORKDIR = Path.cwd()
WORKER = settings.worker_settings(config, WORKDIR)
RESULTS = config["roots"]["results"]
MEASUREMENT_SETS = settings.read_measurement_sets(
    Path(config["measurement_sets"]), WORKDIR
)
settings.check_listed_sets(
    MEASUREMENT_SETS,
    Path(config["measurement_sets"]),
    WORKDIR,
    config,
)
MODEL_CHANNELS = config["model_image"]["channels_out"]
# The content id of the worker image, from the lock file (never the engine):
# a rebuilt or re-pulled image reruns every WSClean step once it is locked.
IMAGE_LOCK = lock_path(settings.absolute(RESULTS, WORKDIR))
IMAGE_ID = locked_id(IMAGE_LOCK, config["worker"]["image"])


wildcard_constraints:
    ms="[^/]+",


def get_measurement_set(wildcards):
    """The Measurement Set of a wildcard name; its in-place changes rerun nothing."""
    return ancient(MEASUREMENT_SETS[wildcards.ms])


# What the example rule writes beside the example's set once the set is whole.
EXAMPLE_RECORD = config["example"]["measurement_set"].rstrip("/") + ".example.json"


def get_example_record(wildcards):
    """The example's record, for the example's set only (else nothing).

    The set is an ancient() input, and Snakemake does not rerun the consumers
    of an ancient() input when its producer reruns; this ordinary input does.
    """
    if settings.is_example_set(MEASUREMENT_SETS[wildcards.ms], config, WORKDIR):
        return [EXAMPLE_RECORD]
    return []


def get_final_outputs():
    """Every Measurement Set's cleaned images, quick-looks and source fluxes, and
    the check of their MODEL_DATA when verify.enabled is set."""
    outputs = [
        *expand(
            f"{RESULTS}/{{ms}}/clean/{{ms}}-{{product}}.fits",
            ms=MEASUREMENT_SETS,
            product=CLEAN_PRODUCTS,
        ),
        *expand(
            f"{RESULTS}/{{ms}}/quicklook/clean/{{ms}}-{{product}}.png",
            ms=MEASUREMENT_SETS,
            product=CLEAN_PRODUCTS,
        ),
        *expand(
            f"{RESULTS}/{{ms}}/source_fluxes.{{kind}}",
            ms=MEASUREMENT_SETS,
            kind=("csv", "html"),
        ),
    ]
    for name in MEASUREMENT_SETS:
        outputs += model_quicklooks(f"{RESULTS}/{name}/quicklook/model/{name}")
    if config["verify"]["enabled"]:
        outputs += expand(
            f"{RESULTS}/{{ms}}/verify/{{ms}}-model-check.json", ms=MEASUREMENT_SETS
        )
    return outputs


def model_images(prefix):
    """The model images draw_model writes for a prefix, one per channel group."""
    return [
        str(model_image_name(Path(prefix), group, MODEL_CHANNELS))
        for group in range(MODEL_CHANNELS)
    ]


def model_quicklooks(prefix):
    """The quick-look PNGs of the model images, one per channel group."""
    return [str(Path(image).with_suffix(".png")) for image in model_images(prefix)]


def wrapper_path(name):
    """A wrapper kept in this repository, for the wrapper: directive."""
    return f"file:{workflow.basedir}/workflow/wrappers/{name}"
