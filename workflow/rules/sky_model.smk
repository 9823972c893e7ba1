rule sky_model:
    input:
        catalogue=config["sky_model"]["catalogue"],
        measurement_set=get_measurement_set,
    output:
        sky_model=f"{RESULTS}/{{ms}}/sky_model.txt",
    log:
        "logs/{ms}/sky_model.log",
    params:
        selection=config["sky_model"],
    script:
        "../scripts/sky_model.py"
