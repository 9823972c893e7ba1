from contimg import logs
from contimg.interrupts import stop_jobs_on_sigterm
from contimg.lifecycle import (
    check_measurement_sets,
    planned_commands,
    start_run_worker,
    stop_run_worker,
)


onstart:
    logs.configure()
    stop_jobs_on_sigterm()
    settings.prepare_roots(config, WORKDIR)
    check_measurement_sets(
        config,
        {name: WORKDIR / path for name, path in MEASUREMENT_SETS.items()},
        WORKER.roots,
    )
    start_run_worker(WORKER, planned_commands(config, WORKDIR), IMAGE_LOCK)


onsuccess:
    logs.configure()
    stop_run_worker(WORKER)


onerror:
    logs.configure()
    stop_run_worker(WORKER)
