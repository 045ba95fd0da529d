"""Queue a user's own script: a SCHEDULED run the local executor starts as
``python -m trainers.run_script <run id> <script> [args]`` (its RunboardLogger attaches to the run)."""

from __future__ import annotations

import getpass
import json
import time
from pathlib import Path

from trainers import run_tags, tracking


def submit_script(script: str | Path, args: list[str] | None = None, experiment: str | None = None,
                  run_name: str | None = None, launched_by: str | None = None, uri: str | None = None) -> str:
    uri = uri or tracking.tracking_uri()
    client = tracking.client(uri)
    exp = tracking.experiment_id(experiment, uri)
    who = launched_by or getpass.getuser()
    argv = [str(Path(script).resolve()), *(args or [])]
    tags = {run_tags.SCRIPT: json.dumps(argv), run_tags.QUEUED: f"{time.time():.3f}", run_tags.LAUNCHED_BY: who,
            run_tags.USER: who, run_tags.SOURCE_NAME: argv[0]}
    run_id = client.create_run(exp, tags=tags, run_name=run_name).info.run_id
    client.update_run(run_id, status="SCHEDULED")
    return run_id


def script_argv(run_id: str, uri: str | None = None) -> list[str] | None:
    """The argv after ``python -m trainers.run_script <run id>`` for a script run, else None."""
    raw = tracking.client(uri).get_run(run_id).data.tags.get(run_tags.SCRIPT)
    return json.loads(raw) if raw else None
