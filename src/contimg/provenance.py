"""What made a product: a small JSON record beside it, and how to run it again.

The record names the worker image by its content id, WSClean's version, the
exact argument list, the options the step used, identifying facts of the
inputs (path, size, modification time, and a checksum where cheap), the host,
the times, and the worker.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import socket
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contimg.errors import ContimgError

CHECKSUM_LIMIT_BYTES = 64 * 2**20
"""Files up to this size get a SHA-256 checksum; larger ones size and time only."""


@dataclass(frozen=True)
class Execution:
    """The WSClean command(s) of one step as they ran in the worker, in order."""

    commands: tuple[tuple[str, ...], ...]
    image: str
    image_id: str
    wsclean_version: str
    worker: str
    run_id: str
    workdir: str
    started: str
    finished: str
    usage: tuple[Any, ...] = ()
    """What each command used inside the worker (contimg.execution.Usage)."""
    runtime: str = "docker"
    """The container runtime that ran it: docker or podman."""
    staging: str = ""
    """The staging folder the commands ran in (their working directory)."""


def now() -> str:
    """The current UTC time, to the second, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def input_facts(path: Path) -> dict[str, Any]:
    """Path, size, modification time and (for small files) SHA-256 of an input."""
    if path.is_dir():
        files = [item for item in path.rglob("*") if item.is_file()]
        return {
            "path": str(path),
            "size_bytes": sum(item.stat().st_size for item in files),
            "modified": max((item.stat().st_mtime for item in files), default=0.0),
        }
    status = path.stat()
    facts: dict[str, Any] = {
        "path": str(path),
        "size_bytes": status.st_size,
        "modified": status.st_mtime,
    }
    if status.st_size <= CHECKSUM_LIMIT_BYTES:
        facts["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return facts


def plain(value: Any) -> Any:
    """Options as JSON-ready values (dataclasses to mappings, paths to text)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {key: plain(item) for key, item in asdict(value).items()}
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, content: object) -> None:
    """Write content to path as indented JSON, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def write_record(
    path: Path,
    step: str,
    execution: Execution,
    options: object,
    inputs: Sequence[Path],
    outputs: Sequence[Path],
    staged: Sequence[tuple[Path, Path]] = (),
) -> None:
    """Write the provenance record of one step, whole or not at all.

    staged: the (input, name) pairs of files the step copied into its staging
    folder for WSClean to read, so that the step can be reproduced.
    """
    record = {
        "step": step,
        "host": socket.gethostname(),
        **plain(execution),
        "options": plain(options),
        "inputs": [input_facts(item.absolute()) for item in inputs],
        "outputs": [str(item.absolute()) for item in outputs],
        "staged": [
            {"source": str(source.absolute()), "staged_as": str(name.absolute())}
            for source, name in staged
        ],
    }
    write_json(path, record)


def find_record(product: Path) -> dict[str, Any]:
    """The record of a product: the file itself if it is one, else the one beside it."""
    if not product.exists():
        raise ContimgError(
            f"{product} does not exist; give the path of a product (a FITS image "
            "under the results) or of its record"
        )
    candidates = [product] if product.suffix == ".json" else [
        *sorted(product.parent.glob("*.provenance.json")),
        product.parent.parent / "predict.json",
    ]  # fmt: skip
    for candidate in candidates:
        if not candidate.is_file():
            continue
        record: dict[str, Any] = json.loads(candidate.read_text(encoding="utf-8"))
        if candidate == product or str(product.resolve()) in map(
            lambda p: str(Path(p).resolve()), record.get("outputs", [])
        ):
            return record
    raise ContimgError(
        f"no provenance record names {product}; records are kept for WSClean's "
        "products (the FITS images of draw_model and clean, and MODEL_DATA in "
        "predict.json), beside them as NAME.provenance.json; quick-looks and "
        "tables are remade from those images by the workflow"
    )


def option_values(commands: Sequence[Sequence[str]], option: str) -> list[str]:
    """The values an option has in the commands, each once, in order."""
    values: list[str] = []
    for arguments in commands:
        words = list(arguments)
        for index, word in enumerate(words[:-1]):
            if word == option and words[index + 1] not in values:
                values.append(words[index + 1])
    return values


def staging_folders(commands: Sequence[Sequence[str]]) -> list[str]:
    """The folders WSClean wrote into: those of -name and -temp-dir."""
    folders: list[str] = []
    for arguments in commands:
        for option in ("-temp-dir", "-name"):
            for value in option_values([arguments], option):
                folder = value if option == "-temp-dir" else str(Path(value).parent)
                if folder not in folders:
                    folders.append(folder)
    return folders


def comment(text: str, wrap: bool = True) -> str:
    """Text as shell comment lines (wrapped), whatever line breaks it holds."""
    lines = text.split("\n")
    if wrap:
        lines = [
            part
            for line in lines
            for part in textwrap.wrap(
                line, 86, break_long_words=False, break_on_hyphens=False
            )
            or [""]
        ]
    return "\n".join(f"# {line}".rstrip() for line in lines)


def removable(folder: str) -> bool:
    """Whether a script may remove a staging folder: an absolute path below /."""
    path = Path(folder)
    return path.is_absolute() and len(path.parts) > 2 and ".." not in path.parts


def staged_copies(record: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Checks of the files the step staged, and their copies to the names
    WSClean reads, as the step made them."""
    checksums = {facts["path"]: facts.get("sha256") for facts in record["inputs"]}
    checks: list[str] = []
    copies: list[str] = []
    for item in record["staged"]:
        source, name = item["source"], item["staged_as"]
        checksum = checksums.get(source)
        if checksum:
            problem = shlex.quote(
                f"contimg reproduce: {source} is missing or is not the file "
                f"{record['step']} read (its SHA-256 differs from the record's)"
            )
            checks.append(
                f'[ "$(sha256sum < {shlex.quote(source)})" = '
                f"{shlex.quote(f'{checksum}  -')} ] || "
                f"{{ echo {problem} >&2; exit 1; }}"
            )
        copies.append(f"cp -- {shlex.quote(source)} {shlex.quote(name)}")
    return checks, copies


def unknown_staging(record: Mapping[str, Any]) -> list[str]:
    """For a predict record older than its "staged" list: say so, and stop."""
    names = option_values(record["commands"], "-name")
    options = record.get("options")
    groups = options.get("channels_out", 1) if isinstance(options, Mapping) else 1
    images = [f["path"] for f in record["inputs"] if f["path"].endswith(".fits")]
    lines = [
        comment(
            "This record is older than the list of files the step staged "
            '("staged"): it does not say which model images predict copied to the '
            f"names -predict reads under its -name prefix {', '.join(names)} "
            "(NAME-model.fits, or NAME-000g-model.fits per channel group). The step "
            "copied its model image inputs there; most likely, with "
            f"channels_out {groups}, but check:"
        )
    ]
    if names:
        name = Path(names[0])
        for group, image in enumerate(images):
            infix = f"-{group:04d}" if groups > 1 else ""
            staged = name.with_name(f"{name.name}{infix}-model.fits")
            copy = f"  cp -- {shlex.quote(image)} {shlex.quote(str(staged))}"
            lines.append(comment(copy, wrap=False))
    message = (
        "contimg reproduce: the record does not say which model images predict "
        "staged; see the comments in this script, then copy them and remove this exit"
    )
    lines.append(comment("Uncomment those copies and remove the two lines below."))
    lines += [f"echo {shlex.quote(message)} >&2", "exit 1"]
    return lines


def reproduction(record: Mapping[str, Any]) -> str:
    """A bash script that runs the recorded WSClean commands again.

    It makes the staging folder the step ran in, stages the files the step
    staged there (predict's model images), runs each command in a container of
    the recorded image id, and removes the folder afterwards; for a step whose
    products WSClean wrote there (clean, draw_model) only a successful run
    keeps the folder, with the remade products, for comparison.
    """
    step, commands = record["step"], record["commands"]
    made = staging_folders(commands)
    names = [str(Path(name).parent) for name in option_values(commands, "-name")]
    staging = [record["staging"]] if record.get("staging") else names
    in_place = step == "predict"
    needed = (
        {str(Path(facts["path"]).resolve().parent) for facts in record["inputs"]}
        | {str(Path(output).resolve().parent) for output in record["outputs"]}
        | set(made)
        | set(staging)
    )
    # A folder inside another one mounted is mounted with it.
    folders = sorted(
        f for f in needed if not any(Path(o) in Path(f).parents for o in needed)
    )
    mounts = " ".join(f"-v {shlex.quote(f)}:{shlex.quote(f)}" for f in folders)
    workdir = f"-w {shlex.quote(staging[0])} " if staging else ""
    gone = [folder for folder in staging if removable(folder)]
    temporary = [f for f in option_values(commands, "-temp-dir") if removable(f)]

    def remove(targets: Sequence[str]) -> str:
        return f"rm -rf -- {' '.join(map(shlex.quote, targets))}" if targets else ":"

    if in_place:
        after = (
            f"It ran in the staging folder {', '.join(staging)}; this script makes "
            "it again, stages the files the step staged there, and removes it "
            f"afterwards. It rewrites {', '.join(record['outputs'])} in place, as "
            "the step did."
        )
        clean_up = f"clean_up() {{ {remove(gone)}; }}"
    else:
        after = (
            f"It ran in the staging folder {', '.join(staging)}; the products were "
            "moved from there to the places above. This script makes it again and "
            "leaves the remade products there, to compare (a failed run removes "
            "it; remove it when done). WSClean's threaded cleaning is not "
            "repeatable bit for bit: expect differences up to about 1e-3 of the "
            "image's peak, not identical files."
        )
        clean_up = (
            f'clean_up() {{ if [ "$1" -eq 0 ]; then {remove(temporary)}; '
            f"else {remove(gone)}; fi; }}"
        )
    checks: list[str] = []
    staging_lines: list[str] = []
    if record.get("staged"):
        checks, copies = staged_copies(record)
        staging_lines = [
            comment("WSClean reads these under the names it expects: copied there "
                    "as the step did."),
            *copies,
        ]  # fmt: skip
    elif in_place and "staged" not in record:
        staging_lines = unknown_staging(record)
    lines = [
        "#!/usr/bin/env bash",
        comment(f"{step} made {', '.join(record['outputs'])}"),
        comment(
            f"with WSClean {record['wsclean_version']} in image {record['image']} "
            f"({record['image_id']}), run {record['run_id']} on {record['host']}, "
            f"{record['started']} to {record['finished']}."
        ),
        comment(after),
        "set -eu",
        *checks,
        *([f"mkdir -p -- {' '.join(map(shlex.quote, made))}"] if made else []),
        clean_up,
        "trap 'clean_up \"$?\"' EXIT",
        *staging_lines,
        *(
            f"{record.get('runtime', 'docker')} run --rm --network none "
            f'--user "$(id -u):$(id -g)" {mounts} {workdir}'
            f"{shlex.quote(record['image_id'])} {shlex.join(arguments)}"
            for arguments in commands
        ),
    ]
    if not in_place and staging:
        done = f"contimg reproduce: the remade products are in {', '.join(staging)}"
        lines.append(f"echo {shlex.quote(done)} >&2")
    return "\n".join(lines)
