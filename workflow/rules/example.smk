# Written where the run is started, not as a cluster job: it is the example's data.
localrules:
    example_measurement_set,


rule example_measurement_set:
    input:
        stations=config["example"]["stations"],
        catalogue=config["sky_model"]["catalogue"],
    output:
        measurement_set=directory(config["example"]["measurement_set"]),
    log:
        "logs/example_measurement_set.log",
    params:
        example=config["example"],
        selection=config["sky_model"],
    script:
        "../scripts/example_measurement_set.py"
