rule predict:
    input:
        term_image=f"{RESULTS}/{{ms}}/model/{{ms}}-term-0.fits",
        measurement_set=get_measurement_set,
    output:
        record=f"{RESULTS}/{{ms}}/predict.json",
    log:
        "logs/{ms}/predict.log",
    # One SLURM job per Measurement Set: its steps share one worker on one node.
    group:
        "measurement_set"
    threads: config["wsclean"]["threads"]
    resources:
        mem_mb=config["wsclean"]["mem_mb"],
    params:
        model_image=config["model_image"],
        image=config["worker"]["image"],
    wrapper:
        wrapper_path("predict")
