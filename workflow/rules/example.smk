# Written where the run is started, not as a cluster job: it is the example's data.
localrules:
    example_measurement_set,


rule example_measurement_set:
    input:
        stations=config["example"]["stations"],
        catalogue=config["example"]["catalogue"],
    output:
        measurement_set=directory(config["example"]["measurement_set"]),
        # Written last; the set's steps depend on it (see get_example_record).
        record=EXAMPLE_RECORD,
    log:
        "logs/example_measurement_set.log",
    params:
        example=config["example"],
    script:
        "../scripts/example_measurement_set.py"
