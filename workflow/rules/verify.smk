rule verify_model:
    input:
        sky_model=rules.sky_model.output.sky_model,
        measurement_set=get_measurement_set,
        # MODEL_DATA is complete once predict's record exists.
        predict_record=rules.predict.output.record,
    output:
        report=f"{RESULTS}/{{ms}}/verify/{{ms}}-model-check.json",
        plot=f"{RESULTS}/{{ms}}/verify/{{ms}}-model-check.png",
    log:
        "logs/{ms}/verify_model.log",
    group:
        "measurement_set"
    params:
        model_image=config["model_image"],
        verify=config["verify"],
        failed_report="logs/{ms}/verify_model-failed.json",
    script:
        "../scripts/verify_model.py"
