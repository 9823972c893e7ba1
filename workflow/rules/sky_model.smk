rule sky_model:
    input:
        catalogue=config["sky_model"]["catalogue"],
        measurement_set=get_measurement_set,
        example=get_example_record,
    output:
        sky_model=f"{RESULTS}/{{ms}}/sky_model.txt",
    log:
        "logs/{ms}/sky_model.log",
    # One SLURM job per Measurement Set: its steps share one worker on one node.
    group:
        "measurement_set"
    params:
        selection=config["sky_model"],
    script:
        "../scripts/sky_model.py"
