"""One reading of a run's live progress from its tags: epoch, step, fraction, ETA, liveness.

The Activity view and the Run page both show this; the reaper's staleness limit is the same one
(``run_tags.stale_after_s``), so a page never calls a run dead that the reaper still waits for.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainers import run_tags as T


def _number(tags: dict, key: str) -> float | None:
    try:
        return float(tags[key])
    except (KeyError, TypeError, ValueError):
        return None


def duration_text(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}" if h else f"{rem // 60}:{rem % 60:02d}"


@dataclass(frozen=True)
class Progress:
    epoch: float | None
    max_epochs: float | None
    step: float | None
    total_steps: float | None
    fraction: float | None  # 0..1, by steps when known, else by epochs
    eta_s: float | None
    heartbeat_age_s: float | None

    @property
    def stale(self) -> bool:
        """No heartbeat for longer than the reaper allows: the trainer has probably died."""
        return self.heartbeat_age_s is not None and self.heartbeat_age_s > T.stale_after_s()

    def text(self) -> str:
        """``epoch x/y · step s/t · ETA m:ss`` (the parts that are known)."""
        parts = []
        if self.epoch is not None and self.max_epochs:
            parts.append(f"epoch {self.epoch:.0f}/{self.max_epochs:.0f}")
        if self.step is not None and self.total_steps:
            parts.append(f"step {self.step:.0f}/{self.total_steps:.0f}")
        if self.eta_s is not None:
            parts.append(f"ETA {duration_text(self.eta_s)}")
        return " · ".join(parts)


def read(tags: dict, started_s: float | None, now: float) -> Progress:
    """Progress from a run's tags. ``started_s`` (the run's start, unix s) is the fallback for when
    training began, for runs whose trainer did not record it; the ETA then includes queue time."""
    epoch, max_epochs = _number(tags, T.PROGRESS_EPOCH), _number(tags, T.PROGRESS_MAX_EPOCHS)
    step, total = _number(tags, T.PROGRESS_STEP), _number(tags, T.PROGRESS_TOTAL_STEPS)
    beat = _number(tags, T.HEARTBEAT)
    frac = None
    if epoch is not None and max_epochs:
        frac = epoch / max_epochs
    if step is not None and total:
        frac = step / total
    began = _number(tags, T.PROGRESS_STARTED) or started_s
    eta = None
    if step and total and began is not None:
        eta = max(0.0, ((beat or now) - began) * (total - step) / step)
    return Progress(epoch, max_epochs, step, total, None if frac is None else min(max(frac, 0.0), 1.0), eta,
                    now - beat if beat else None)


def stalled(tags: dict, last_point_s: float | None, started_s: float | None, now: float) -> bool:
    """A RUNNING run that stopped moving: no heartbeat, no new point (plain-MLflow runs send no
    heartbeat) and no claim by the worker (a launch that waited in the queue has an old start) —
    or, with none of these, since its start — for longer than the reaper's staleness limit."""
    signs = [t for t in (_number(tags, T.HEARTBEAT), _number(tags, T.CLAIMED), last_point_s) if t is not None]
    last = max(signs) if signs else started_s
    return last is not None and now - last > T.stale_after_s()
