"""The worker image's lock: which image content the results were made with.

A tag such as contimg/wsclean:3.7 can point at new content after a rebuild or
a pull. The lock file (worker-image.lock in the results root) records the
content id the tag stood for when the results were made. The WSClean rules
take that id as a parameter, read from the file when the workflow is parsed,
so a changed id makes Snakemake rerun every WSClean step, and a dry run
learns it without asking the container engine.

The run's start compares the lock with the engine and refuses to go on when
they differ: `contimg lock-image` adopts the image the engine has now.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import docker
import docker.errors

from contimg.errors import WorkerImageError
from contimg.provenance import now, write_json

logger = logging.getLogger(__name__)

LOCK_NAME = "worker-image.lock"
UNLOCKED = "unlocked"


def lock_path(results_root: Path) -> Path:
    """Where the lock of a results root lies."""
    return results_root / LOCK_NAME


def read_lock(path: Path) -> dict[str, Any] | None:
    """The lock's content, or None when there is none."""
    if not path.is_file():
        return None
    try:
        content: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise WorkerImageError(
            f"image lock {path} is not valid JSON ({error}); expected the file "
            "`contimg lock-image` writes; remove it and run `contimg lock-image`"
        ) from error
    return content


def locked_id(path: Path, image: str) -> str:
    """The content id the lock records for image (a rule parameter).

    Read from the file only, so that parsing the workflow (and a dry run)
    never calls the engine. Without a lock for this image the value is
    'unlocked'; the run's start refuses to run in that state.
    """
    lock = read_lock(path)
    if lock is None or lock.get("image") != image:
        return UNLOCKED
    return str(lock["id"])


def engine_image_id(client: docker.DockerClient, image: str) -> str:
    """The content id the engine holds under the image's name."""
    try:
        return str(client.images.get(image).id)
    except docker.errors.ImageNotFound as error:
        raise WorkerImageError(
            f"the worker image {image} is not in the local container engine; "
            "build it with `scripts/build-worker-image` (or set worker.image to "
            "an image that has WSClean 3.7 or newer)"
        ) from error


def write_lock(path: Path, image: str, image_id: str) -> None:
    """Record image_id as the content of image, whole or not at all."""
    previous = read_lock(path)
    write_json(path, {"image": image, "id": image_id, "locked": now()})
    if previous and previous.get("id") != image_id:
        logger.info(
            "%s: %s was %s, now %s; every WSClean step will run again",
            path,
            image,
            previous.get("id"),
            image_id,
        )


def lock_image(client: docker.DockerClient, path: Path, image: str) -> str:
    """Lock the image's current content; return its id."""
    image_id = engine_image_id(client, image)
    write_lock(path, image, image_id)
    return image_id


def check_lock(path: Path, image: str, current: str) -> None:
    """Refuse to run when the lock is missing or names other content than the
    engine holds (`current`): the rules were planned with the lock's id."""
    lock = read_lock(path)
    adopt = (
        f"run `contimg lock-image --image {image} --results {path.parent}` to "
        "record the image the engine holds now (every WSClean step then runs "
        "again)"
    )
    if lock is None:
        raise WorkerImageError(
            f"there is no image lock {path}, so contimg cannot tell which image "
            f"the results will be made with; {adopt}"
        )
    if lock.get("image") != image:
        raise WorkerImageError(
            f"image lock {path} records {lock.get('image')}, but worker.image is "
            f"{image}; {adopt}, or set worker.image back"
        )
    if lock.get("id") != current:
        raise WorkerImageError(
            f"worker image {image} is now {current} in the engine, but image lock "
            f"{path} records {lock.get('id')} (locked {lock.get('locked')}), the "
            f"content the results were planned with; {adopt}, or restore the "
            "locked image"
        )
