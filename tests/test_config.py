"""The config: schema validation through Snakemake, and its typed settings."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from contimg import config as settings
from contimg.errors import ConfigError

REPOSITORY = Path(__file__).resolve().parents[1]
SCHEMA = str(REPOSITORY / "workflow" / "schemas" / "config.schema.yaml")


def example_config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (REPOSITORY / "config" / "config.yaml").read_text()
    )
    return loaded


def test_the_bundled_config_is_valid() -> None:
    config = example_config()

    validate(config, SCHEMA)
    settings.check_consistency(config)


def test_an_unknown_key_is_refused_by_name() -> None:
    config = example_config()
    config["clean"]["nitre"] = 5

    with pytest.raises(WorkflowError, match="nitre"):
        validate(config, SCHEMA)


def test_defaults_fill_keys_left_out() -> None:
    config = example_config()
    del config["clean"]["mgain"]

    validate(config, SCHEMA)

    assert config["clean"]["mgain"] == 0.8


def test_the_report_section_defaults_to_ten_sources_and_refuses_zero() -> None:
    config = example_config()
    del config["report"]

    validate(config, SCHEMA)

    assert config["report"]["brightest_sources"] == 10
    config["report"]["brightest_sources"] = 0
    with pytest.raises(WorkflowError, match="brightest_sources"):
        validate(config, SCHEMA)


def test_an_odd_image_size_is_refused() -> None:
    config = example_config()
    config["clean"]["size"] = 1023

    with pytest.raises(ConfigError, match=r"clean\.size is 1023"):
        settings.check_consistency(config)


def test_worker_settings_resolve_roots_against_the_working_directory(
    tmp_path: Path,
) -> None:
    config = copy.deepcopy(example_config())

    worker = settings.worker_settings(config, tmp_path)

    assert worker.image == "contimg/wsclean:3.7"
    assert worker.roots == (
        (tmp_path / "resources").resolve(),
        (tmp_path / "results").resolve(),
        (tmp_path / "scratch").resolve(),
    )
    assert worker.stop_timeout_s == 30


def test_clean_options_come_from_the_clean_section() -> None:
    options = settings.clean_options(example_config()["clean"])

    assert options.geometry.size == 1024
    assert options.weight == ("briggs", "0")
    assert options.data_column == "DATA"
    assert options.update_model is False


def test_the_measurement_set_table_refuses_repeated_names(tmp_path: Path) -> None:
    table = tmp_path / "sets.tsv"
    table.write_text("name\tpath\na\tx.ms\na\ty.ms\n")

    with pytest.raises(ConfigError, match=r"names a more than once"):
        settings.read_measurement_sets(table, tmp_path)


def test_the_measurement_set_table_needs_both_columns(tmp_path: Path) -> None:
    table = tmp_path / "sets.tsv"
    table.write_text("name\nfirst\n")

    with pytest.raises(ConfigError, match="lacks the column"):
        settings.read_measurement_sets(table, tmp_path)

    table.write_text("name path\nfirst a.ms\n")  # spaces, not a tab
    with pytest.raises(ConfigError, match=r"header holds 'name path'\); .* a tab"):
        settings.read_measurement_sets(table, tmp_path)


@pytest.mark.parametrize("text", ["name\tpath\n", "name\tpath\n# none yet\n"])
def test_a_table_without_sets_is_refused(tmp_path: Path, text: str) -> None:
    table = tmp_path / "sets.tsv"
    table.write_text(text)

    with pytest.raises(ConfigError, match=f"table {table} lists no Measurement Set"):
        settings.read_measurement_sets(table, tmp_path)


def listed_config(workdir: Path) -> dict[str, Any]:
    """The parts of a config that check_listed_sets reads."""
    return {
        "example": {"measurement_set": "made/by/workflow.ms"},
        "roots": {"inputs": [str(workdir)], "results": "results", "scratch": "s"},
    }


def make_table_directory(path: Path) -> Path:
    """A directory that looks like a casacore table (it holds table.dat)."""
    path.mkdir(parents=True)
    (path / "table.dat").write_bytes(b"")
    return path


def test_a_listed_set_that_is_missing_is_refused_unless_it_is_the_example(
    tmp_path: Path,
) -> None:
    make_table_directory(tmp_path / "there.ms")
    table = tmp_path / "sets.tsv"
    sets = {"there": "there.ms", "example": "made/by/workflow.ms"}
    config = listed_config(tmp_path)
    settings.check_listed_sets(sets, table, tmp_path, config)

    with pytest.raises(ConfigError, match=r"lists 'gone' at .*gone\.ms, which does"):
        settings.check_listed_sets({**sets, "gone": "gone.ms"}, table, tmp_path, config)


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda path: path.write_text("not a table"), "a file"),
        (lambda path: path.mkdir(), "a directory without table.dat"),
    ],
    ids=["file", "directory"],
)
def test_a_listed_path_that_is_not_a_table_is_refused_before_planning(
    tmp_path: Path, make: Callable[[Path], object], kind: str
) -> None:
    make(tmp_path / "plain.ms")

    with pytest.raises(ConfigError, match=f"which is {kind}, not a Measurement Set"):
        settings.check_listed_sets(
            {"plain": "plain.ms"}, tmp_path / "t.tsv", tmp_path, listed_config(tmp_path)
        )


def test_a_listed_set_outside_the_roots_is_refused_before_planning(
    tmp_path: Path,
) -> None:
    make_table_directory(tmp_path / "elsewhere" / "set.ms")
    config = listed_config(tmp_path / "inputs")
    (tmp_path / "inputs").mkdir()

    with pytest.raises(ConfigError, match=r"not under any directory the worker mounts"):
        settings.check_listed_sets(
            {"away": "elsewhere/set.ms"}, tmp_path / "t.tsv", tmp_path, config
        )

    config["roots"]["inputs"] = [str(tmp_path / "inptus")]
    with pytest.raises(ConfigError, match=r"inptus do not exist; check roots.inputs"):
        settings.check_listed_sets(
            {"away": "elsewhere/set.ms"}, tmp_path / "t.tsv", tmp_path, config
        )


def test_the_same_set_under_two_names_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.ms").mkdir()
    table = tmp_path / "sets.tsv"
    table.write_text("name\tpath\nfirst\ta.ms\nsecond\t./a.ms\n")

    with pytest.raises(ConfigError, match="twice"):
        settings.read_measurement_sets(table, tmp_path)


def test_the_runtime_is_docker_unless_the_config_chooses_podman() -> None:
    config = example_config()
    del config["worker"]["runtime"], config["worker"]["socket"]
    validate(config, SCHEMA)
    assert settings.worker_settings(config, REPOSITORY).runtime == "docker"

    config["worker"].update(runtime="podman", socket="/run/user/1000/podman.sock")
    validate(config, SCHEMA)
    chosen = settings.worker_settings(config, REPOSITORY)
    assert (chosen.runtime, chosen.socket) == ("podman", "/run/user/1000/podman.sock")


def test_an_unknown_runtime_is_refused_by_name() -> None:
    config = example_config()
    config["worker"]["runtime"] = "apptainer"

    with pytest.raises(WorkflowError, match="apptainer"):
        validate(config, SCHEMA)


def test_a_config_without_its_sections_says_where_the_defaults_are_read(
    tmp_path: Path,
) -> None:
    """Under --directory, config/config.yaml is looked for in the directory."""
    partial = {"clean": {"niter": 10}}

    with pytest.raises(ConfigError, match=r"lacks measurement_sets, roots, worker"):
        settings.check_sections(partial, tmp_path, Path(SCHEMA))
    with pytest.raises(ConfigError, match=r"config/config.yaml does not exist"):
        settings.check_sections(partial, tmp_path, Path(SCHEMA))
    settings.check_sections(example_config(), tmp_path, Path(SCHEMA))


def test_wsclean_memory_above_the_workers_limit_is_warned_of(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = example_config()
    config["worker"]["memory_mb"] = 2000
    config["wsclean"]["mem_mb"] = 4000

    settings.check_consistency(config)

    assert "wsclean.mem_mb (4000) is more than worker.memory_mb (2000)" in caplog.text
    caplog.clear()
    config["wsclean"]["mem_mb"] = 1500
    settings.check_consistency(config)
    assert caplog.text == ""
