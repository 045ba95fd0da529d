"""The Launch page's commands: queue a filled-in form (validated first, nothing created when it is
not), and the form a run's Clone link opens pre-filled."""

from __future__ import annotations

import json

from experiments import forms, placement, queue
from trainers import tracking
from trainers.config import ConfigError
from trainers.run_tags import SPEC as SPEC_TAG


def launch_form(family: str, raw: dict, experiment=None, run_name=None, launched_by: str | None = None,
                cloned_from: str | None = None, idempotency_key: str | None = None, uri: str | None = None,
                resources: dict | None = None):
    """What the Launch page calls: validate the form (and the resource request, ``{"cpus", "gpus"}``,
    when the page asked for one), and only if it is valid queue the run.
    Returns ``(run_id, {})`` or ``(None, {field: message})`` (then nothing was created)."""
    spec, errors = forms.validate(family, raw, experiment, run_name)
    request = None
    if resources is not None:
        try:
            request = placement.check_request(resources)
        except ConfigError as err:
            errors[err.field or "resources"] = str(err)
    if errors:
        return None, errors
    return queue.submit(spec, launched_by, cloned_from=cloned_from, idempotency_key=idempotency_key, uri=uri,
                        extra_tags=placement.request_tags(request)), {}


def clone_source(run_id: str, uri: str | None = None) -> dict:
    """The launch a run came from: ``{"family", "values", "experiment", "name"}`` for a pre-filled form."""
    tags = tracking.client(uri).get_run(run_id).data.tags
    doc = json.loads(tags[SPEC_TAG])
    return {
        "family": doc["family"],
        "values": doc.get("config") or {},
        "experiment": doc.get("experiment"),
        "name": doc.get("name"),
    }
