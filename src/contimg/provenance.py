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


def write_record(
    path: Path,
    step: str,
    execution: Execution,
    options: object,
    inputs: Sequence[Path],
    outputs: Sequence[Path],
) -> None:
    """Write the provenance record of one step, whole or not at all."""
    record = {
        "step": step,
        "host": socket.gethostname(),
        **plain(execution),
        "options": plain(options),
        "inputs": [input_facts(item.absolute()) for item in inputs],
        "outputs": [str(item.absolute()) for item in outputs],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def find_record(product: Path) -> dict[str, Any]:
    """The record of a product: the file itself if it is one, else the one beside it."""
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
        f"no provenance record names {product}; records lie beside the products "
        "(NAME.provenance.json, predict.json); was it made by contimg?"
    )


def staging_folders(commands: Sequence[Sequence[str]]) -> list[str]:
    """The folders WSClean wrote into: those of -name and -temp-dir."""
    folders: list[str] = []
    for arguments in commands:
        for option in ("-temp-dir", "-name"):
            if option in arguments:
                value = Path(arguments[list(arguments).index(option) + 1])
                folder = str(value if option == "-temp-dir" else value.parent)
                if folder not in folders:
                    folders.append(folder)
    return folders


def reproduction(record: Mapping[str, Any]) -> str:
    """Shell commands that run the recorded WSClean command again."""
    staging = staging_folders(record["commands"])
    folders = sorted(
        {str(Path(facts["path"]).resolve().parent) for facts in record["inputs"]}
        | {str(Path(output).resolve().parent) for output in record["outputs"]}
        | set(staging)
    )
    mounts = " ".join(f"-v {shlex.quote(f)}:{shlex.quote(f)}" for f in folders)
    return (
        f"# {record['step']} made {', '.join(record['outputs'])}\n"
        f"# with WSClean {record['wsclean_version']} in image {record['image']} "
        f"({record['image_id']}), run {record['run_id']} on {record['host']}, "
        f"{record['started']} to {record['finished']}.\n"
        "# WSClean writes into the staging folders it wrote into then; the products\n"
        "# were moved from there to the places above.\n"
        f"mkdir -p {' '.join(shlex.quote(folder) for folder in staging)}\n"
        + "\n".join(
            f"{record.get('runtime', 'docker')} run --rm --network none "
            f'--user "$(id -u):$(id -g)" {mounts} '
            f"{record['image_id']} {shlex.join(arguments)}"
            for arguments in record["commands"]
        )
    )
