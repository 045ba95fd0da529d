"""Run artifacts through MLflow's client: the same code for every store and artifact root."""

from __future__ import annotations

import json
import posixpath
import tempfile
from pathlib import Path

from trainers import tracking


def list_dir(uri: str, run_id: str, path: str = "") -> list[dict]:
    items = tracking.client(uri).list_artifacts(run_id, path or None)
    return [{"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size} for f in items]


def read_json(uri: str, run_id: str, path: str) -> object:
    parent = posixpath.dirname(path.strip("/"))
    if not any(f["path"] == path.strip("/") and not f["is_dir"] for f in list_dir(uri, run_id, parent)):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        local = tracking.client(uri).download_artifacts(run_id, path, tmp)
        return json.loads(Path(local).read_text(encoding="utf-8"))


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # larger files are listed, not drawn


def images(uri: str, run_id: str) -> list[str]:
    """Image files at the artifact root and one folder down (e.g. ``samples/epoch_000.png``), sorted."""
    found = []
    for item in list_dir(uri, run_id):
        below = list_dir(uri, run_id, item["path"]) if item["is_dir"] else [item]
        found += [f["path"] for f in below if not f["is_dir"] and f["path"].lower().endswith(IMAGE_SUFFIXES)
                  and (f["file_size"] or 0) <= MAX_IMAGE_BYTES]
    return sorted(found)


def read_bytes(uri: str, run_id: str, path: str) -> bytes | None:
    """One artifact's bytes; None if the run has no such file."""
    path = path.strip("/")
    if not any(f["path"] == path and not f["is_dir"] for f in list_dir(uri, run_id, posixpath.dirname(path))):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return Path(tracking.client(uri).download_artifacts(run_id, path, tmp)).read_bytes()
