rule clean:
    input:
        measurement_set=get_measurement_set,
        # Imaging waits for predict: both open the same Measurement Set.
        predict_record=rules.predict.output.record,
    output:
        **{
            product: f"{RESULTS}/{{ms}}/clean/{{ms}}-{product}.fits"
            for product in CLEAN_PRODUCTS
        },
        record=f"{RESULTS}/{{ms}}/clean/{{ms}}.provenance.json",
    log:
        "logs/{ms}/clean.log",
    benchmark:
        "benchmarks/{ms}/clean.tsv"
    # One SLURM job per Measurement Set: its steps share one worker on one node.
    group:
        "measurement_set"
    threads: config["wsclean"]["threads"]
    resources:
        mem_mb=config["wsclean"]["mem_mb"],
    params:
        clean=config["clean"],
        image=config["worker"]["image"],
        image_id=IMAGE_ID,
        container_usage="benchmarks/{ms}/clean.container.json",
    wrapper:
        wrapper_path("clean")
