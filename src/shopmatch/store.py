"""Persistence helpers: manifest.json, format versions, atomic directory writes.

Every artifact shopmatch writes is a directory with a ``manifest.json`` naming its ``kind``,
``format_version``, the library version and its config. Directories are written to a
temporary sibling and renamed into place, so a crash never leaves half an index behind.

Example:
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "idx"
    >>> with atomic_directory(target) as tmp:
    ...     _ = write_manifest(tmp, kind="demo", format_version=1, config={})
    >>> read_manifest(target, kind="demo", supported_version=1)["kind"]
    'demo'
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shopmatch.errors import IndexFormatError

MANIFEST = "manifest.json"


def library_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("shopmatch")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"


def write_manifest(
    directory: Path, *, kind: str, format_version: int, config: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """Write ``manifest.json`` into ``directory`` and return it."""
    manifest = {
        "kind": kind,
        "format_version": format_version,
        "library": "shopmatch",
        "library_version": library_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": config,
        **extra,
    }
    (Path(directory) / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return manifest


def read_manifest(directory: str | Path, *, kind: str, supported_version: int) -> dict[str, Any]:
    """Read and check a manifest.

    Raises:
        IndexFormatError: no such directory or manifest, another kind of artifact, or a
            format version newer than this shopmatch understands.
    """
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise IndexFormatError(f"{directory}: no such directory")
    if not path.is_file():
        raise IndexFormatError(f"{directory}: not a shopmatch {kind} (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise IndexFormatError(f"{path}: damaged manifest ({err})") from None
    if not isinstance(manifest, dict):
        raise IndexFormatError(f"{path}: damaged manifest (expected a JSON object)")
    if manifest.get("kind") != kind:
        raise IndexFormatError(f"{directory}: is a {manifest.get('kind')!r}, expected a {kind!r}")
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise IndexFormatError(f"{path}: format_version is missing or not an integer")
    if version > supported_version:
        raise IndexFormatError(
            f"{directory}: written by shopmatch {manifest.get('library_version', '?')} in format "
            f"version {version}; this shopmatch ({library_version()}) reads up to version "
            f"{supported_version}. Upgrade shopmatch or rebuild the index."
        )
    return manifest


@contextlib.contextmanager
def atomic_directory(target: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary sibling of ``target``; on success rename it to ``target``.

    On an exception the temporary directory is removed and ``target`` is left untouched.
    With ``overwrite``, an existing ``target`` is replaced (moved aside, then deleted).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        _fsync_tree(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def write_json_model(directory: str | Path, name: str, data: Any, *, kind: str, version: int, **facts: Any) -> Path:
    """Write a small model as ``directory/name`` (JSON) with a manifest (``kind``, ``version``,
    ``facts``), atomically; the pair :func:`read_json_model` reads."""
    directory = Path(directory)
    with atomic_directory(directory) as tmp:
        (tmp / name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        write_manifest(tmp, kind=kind, format_version=version, config={}, **facts)
    return directory


def read_json_model(directory: str | Path, name: str, *, kind: str, version: int) -> tuple[Path, Any] | None:
    """The path and parsed JSON of a model :func:`write_json_model` wrote (None when ``directory``
    does not exist: an index written before that model). The caller builds the model and reports a
    damaged payload naming the path.

    Raises:
        IndexFormatError: a missing or foreign manifest, or a file that is not JSON (the message names it).
    """
    directory = Path(directory)
    if not directory.is_dir():
        return None
    read_manifest(directory, kind=kind, supported_version=version)
    path = directory / name
    try:
        return path, json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise IndexFormatError(f"{path}: unreadable ({type(err).__name__}: {err}); rebuild the index") from None
