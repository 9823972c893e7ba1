rule draw_model:
    input:
        sky_model=rules.sky_model.output.sky_model,
        measurement_set=get_measurement_set,
    output:
        model_images=model_images(f"{RESULTS}/{{ms}}/model/{{ms}}"),
        record=f"{RESULTS}/{{ms}}/model/{{ms}}.provenance.json",
    log:
        "logs/{ms}/draw_model.log",
    benchmark:
        "benchmarks/{ms}/draw_model.tsv"
    # One SLURM job per Measurement Set: its steps share one worker on one node.
    group:
        "measurement_set"
    threads: config["wsclean"]["threads"]
    resources:
        mem_mb=config["wsclean"]["mem_mb"],
    params:
        # padding is predict's alone: changing it reruns predict, not this.
        model_image={k: v for k, v in config["model_image"].items() if k != "padding"},
        image=config["worker"]["image"],
        image_id=IMAGE_ID,
        container_usage="benchmarks/{ms}/draw_model.container.json",
    wrapper:
        wrapper_path("draw_model")
