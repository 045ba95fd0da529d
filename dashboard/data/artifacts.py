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
