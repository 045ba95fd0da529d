"""One run under DDP: rank zero owns the run; the other ranks never touch the store.

Lightning's subprocess launcher re-runs the command line in each child rank. Before ``fit`` rank zero
exports the run id and the spec; a child (``LOCAL_RANK`` > 0 with those set) trains the same spec
(``trainers.train.child_main``) with this module's logger that writes nothing, so points, tags,
artifacts and the status come from rank zero only.
"""

from __future__ import annotations

import os

from pytorch_lightning.loggers.logger import Logger

RUN_ENV = "RUNBOARD_DDP_RUN_ID"
SPEC_ENV = "RUNBOARD_DDP_SPEC"
CKPT_ENV = "RUNBOARD_DDP_CKPT"


def child_rank() -> int:
    """This process's rank when it is a DDP child started for a Runboard run, else 0."""
    if RUN_ENV not in os.environ:
        return 0
    for name in ("LOCAL_RANK", "RANK"):
        if os.environ.get(name, "0").isdigit() and int(os.environ.get(name, "0")) > 0:
            return int(os.environ[name])
    return 0


def share(spec, run_id: str, ckpt_path: str | None) -> None:
    """Rank zero, before ``fit``: what a child rank needs (children inherit the environment)."""
    os.environ[RUN_ENV], os.environ[SPEC_ENV] = run_id, spec.to_json()
    if ckpt_path:
        os.environ[CKPT_ENV] = ckpt_path


class NullLogger(Logger):
    """The logger of a rank > 0: same interface as ``RunboardLogger``, writes nothing."""

    name, version, run_id = "runboard", "0", None

    def log_hyperparams(self, *args, **kwargs): ...
    def log_metrics(self, *args, **kwargs): ...
    def log_artifact(self, *args, **kwargs): ...
    def set_tags(self, *args, **kwargs): ...
    def flush(self): ...
    def close(self): ...

