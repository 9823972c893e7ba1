rule predict:
    input:
        model_images=rules.draw_model.output.model_images,
        measurement_set=get_measurement_set,
    output:
        record=f"{RESULTS}/{{ms}}/predict.json",
    log:
        "logs/{ms}/predict.log",
    benchmark:
        "benchmarks/{ms}/predict.tsv"
    # One SLURM job per Measurement Set: its steps share one worker on one node.
    group:
        "measurement_set"
    threads: config["wsclean"]["threads"]
    resources:
        mem_mb=config["wsclean"]["mem_mb"],
    params:
        model_image=config["model_image"],
        image=config["worker"]["image"],
        image_id=IMAGE_ID,
        container_usage="benchmarks/{ms}/predict.container.json",
    wrapper:
        wrapper_path("predict")
