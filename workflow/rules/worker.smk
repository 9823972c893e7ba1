from contimg import logs
from contimg.interrupts import stop_jobs_on_sigterm
from contimg.lifecycle import (
    announce_results,
    announce_cluster_run,
    check_measurement_sets,
    end_cluster_run,
    planned_commands,
    remove_killed_jobs_staging,
    start_run_worker,
    stop_run_worker,
)

WSCLEAN_RULES = frozenset({"draw_model", "predict", "clean"})
# One command of each WSClean step as the config shapes them: built while the
# workflow is read, so that a bad option fails a dry run too; the run's start
# checks them against the image.
PLANNED_COMMANDS = planned_commands(config, WORKDIR)


def wsclean_steps_planned():
    """Whether the run's plan holds a step that runs WSClean in the worker."""
    return any(job.rule.name in WSCLEAN_RULES for job in workflow.dag.needrun_jobs())


onstart:
    logs.configure()
    stop_jobs_on_sigterm(cancel_cluster_jobs=not workflow.local_exec)
    settings.prepare_roots(config, WORKDIR)
    remove_killed_jobs_staging(settings.scratch_root(config, WORKDIR))
    check_measurement_sets(
        config,
        {name: WORKDIR / path for name, path in MEASUREMENT_SETS.items()},
        WORKER.roots,
    )
    # Under a cluster executor the jobs start workers on their nodes.
    if workflow.local_exec:
        start_run_worker(
            WORKER,
            PLANNED_COMMANDS,
            IMAGE_LOCK,
            wsclean_planned=wsclean_steps_planned(),
        )
    else:
        announce_cluster_run(WORKER)


onsuccess:
    logs.configure()
    if workflow.local_exec:
        stop_run_worker(WORKER)
    else:
        end_cluster_run(WORKER)
    announce_results(settings.absolute(RESULTS, WORKDIR))


onerror:
    logs.configure()
    if workflow.local_exec:
        stop_run_worker(WORKER)
    else:
        end_cluster_run(WORKER)
