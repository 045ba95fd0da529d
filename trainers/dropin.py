"""``from trainers import RunboardLogger``: a Lightning logger for any Lightning script.

    trainer = Trainer(logger=RunboardLogger(experiment_name="byo"), max_epochs=2)

Constructor follows Lightning's ``MLFlowLogger``. It creates the run (or attaches to ``run_id=``,
or to the run named by ``RUNBOARD_RUN_ID``, which the queue's executor sets), logs hparams, writes
every ``self.log`` metric through the batched writer with progress + heartbeat tags, honours the
Stop button (graceful: the run ends KILLED with points kept), uploads checkpoints when
``log_model`` is set, samples system metrics, and ends the run itself when it owns it.
``trainers.train`` keeps using the base class (``trainers.logger.RunboardLogger``) directly.
"""

from __future__ import annotations

import _thread
import os
import shlex
import signal
import socket
import sys
import threading
import time
from argparse import Namespace

from pytorch_lightning.utilities.rank_zero import rank_zero_only

from trainers import journal, run_record, run_tags, tracking
from trainers import logger as _base
from trainers.log_sinks import PointsNotWritten
from trainers.metrics import EPOCH
from trainers.system_metrics import SystemSampler


def _flatten(params, prefix: str = "") -> dict[str, str]:
    if isinstance(params, Namespace):
        params = vars(params)
    out: dict[str, str] = {}
    for key, value in dict(params or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, (dict, Namespace)):
            out.update(_flatten(value, name + "/"))
        else:
            out[name] = str(value)[:6000]
    return out


class RunboardLogger(_base.RunboardLogger):
    """MLFlowLogger-like drop-in. ``RunboardLogger(client, run_id, ...)`` (the base class's
    form, used by ``trainers.train``) still works: it attaches without owning the run."""

    def __init__(self, experiment_name: str | None = None, run_name: str | None = None,
                 tracking_uri: str | None = None, tags: dict | None = None, run_id: str | None = None,
                 log_model: bool | str = False, system_metrics: bool = True, flush_seconds: float | None = None,
                 **kwargs):
        if experiment_name is not None and not isinstance(experiment_name, str):  # (client, run_id) form
            super().__init__(experiment_name, run_name, flush_seconds=flush_seconds, **kwargs)
            self._owns, self._sampler, self.log_model = False, None, False
            return
        client = tracking.client(tracking_uri)
        run_id = run_id or os.environ.get(run_tags.RUN_ID_ENV) or None
        if run_id:
            self._owns = run_record.attachable_status(client, run_id) == "SCHEDULED"
            if self._owns:
                run_record.claim(client, run_id)
            self._owns = self._owns or bool(os.environ.get(run_tags.RUN_ID_ENV))
        else:
            exp = tracking.experiment_id(experiment_name)
            run_id = client.create_run(exp, run_name=run_name).info.run_id
            self._owns = True
        self.client, self.log_model, self._ckpt = client, log_model, None
        self.stop_requested = False
        super().__init__(client, run_id, flush_seconds=flush_seconds, on_stop=self._on_stop)
        own = {run_tags.COMMAND: shlex.join([sys.executable, *sys.argv])[:5000], run_tags.HOST: socket.gethostname(),
               run_tags.PID: str(os.getpid()), run_tags.HEARTBEAT: f"{time.time():.0f}"}
        if commit := run_record.git_commit():
            own[run_tags.GIT_COMMIT] = commit
        own.update({str(k): str(v) for k, v in (tags or {}).items()})
        client.log_batch(run_id, tags=[_tag(k, v) for k, v in own.items()])
        if os.environ.get(run_tags.RUN_ID_ENV) == run_id and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self._on_stop())  # the executor's Stop: graceful, KILLED
        self._sampler = None
        if system_metrics:
            self._sampler = SystemSampler(self.writer)
            self._sampler.start()

    def _on_stop(self) -> None:
        """Seen by the writer thread: interrupt the training loop; Lightning shuts down gracefully."""
        self.stop_requested = True
        _thread.interrupt_main()

    @rank_zero_only
    def log_hyperparams(self, params, *args, **kwargs) -> None:
        if not self._owns and self._sampler is None:
            return  # trainers.train logs params once from the spec
        from mlflow.entities import Param

        have = set(self.client.get_run(self.run_id).data.params)
        new = [Param(k, v) for k, v in _flatten(params).items() if k not in have]
        for i in range(0, len(new), 100):
            self.client.log_batch(self.run_id, params=new[i:i + 100])

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        progress = {run_tags.PROGRESS_STEP: int(step or 0), run_tags.HEARTBEAT: f"{time.time():.0f}"}
        if EPOCH in metrics:
            progress[run_tags.PROGRESS_EPOCH] = int(float(metrics[EPOCH]))
        self.set_tags(progress)

    def after_save_checkpoint(self, checkpoint_callback) -> None:
        self._ckpt = checkpoint_callback
        if self.log_model == "all" and getattr(checkpoint_callback, "last_model_path", ""):
            self.log_artifact(checkpoint_callback.last_model_path, "model")

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if not self._owns:
            return super().finalize(status)
        if self._sampler is not None:
            self._sampler.stop()
        if self.log_model and self._ckpt is not None:
            path = self._ckpt.best_model_path or self._ckpt.last_model_path
            if path and os.path.exists(path):
                self.log_artifact(path, "model")
        self.writer.close()  # every buffered point before the status changes
        if self.stop_requested:
            final, error = "KILLED", "stopped by request"
        elif status == "success":
            final, error = "FINISHED", None
        else:
            final, error = "FAILED", f"training ended {status}"
        tags = {}
        try:
            self.writer.raise_if_incomplete()  # never FINISHED with points missing
        except PointsNotWritten as exc:
            error, tags = journal.failed_ending(self.run_id, self.client.tracking_uri, final, error, exc)
            final = "FAILED"
        run_record.end(self.client, self.run_id, final, error, tags)
        self._owns = False  # finalize may be called again (fit then test): the run stays ended


def _tag(key, value):
    from mlflow.entities import RunTag

    return RunTag(key, value[:5000])
