"""What each run asks for (CPUs, GPUs), as plain data for the Launch page; where launches run is
``experiments.executors.where``.

A run's resource request (CPUs, GPUs) is part of its launch: validated here, stored as run tags
next to the spec (it says how to run the spec, not what to train), and read back by the executor
that starts it. The local executor ignores it; the Ray executor reserves it for the job.
"""

from __future__ import annotations

import math

from trainers.config import ConfigError
from trainers.run_tags import REQUEST_CPUS as CPUS_TAG
from trainers.run_tags import REQUEST_GPUS as GPUS_TAG

DEFAULT_REQUEST = {"cpus": 1.0, "gpus": 0.0}
MAX = {"cpus": 1024.0, "gpus": 64.0}


def _amount(name: str, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: a number of {name.upper()} per run (got {value!r})", field=name) from None
    if not math.isfinite(number) or not 0 <= number <= MAX[name]:
        raise ConfigError(f"{name}: between 0 and {MAX[name]:g} (got {value!r})", field=name)
    if name == "gpus" and number > 1 and not number.is_integer():
        raise ConfigError(f"{name}: a fraction of one GPU, or whole GPUs (got {value!r})", field=name)
    return number


def check_request(raw: dict | None) -> dict[str, float]:
    """``{"cpus": .., "gpus": ..}`` from raw form values (missing ones take the defaults);
    raises ``ConfigError`` naming the field."""
    raw = raw or {}
    unknown = set(raw) - set(DEFAULT_REQUEST)
    if unknown:
        name = sorted(unknown)[0]
        raise ConfigError(f"{name}: not a resource (known: cpus, gpus)", field=name)
    return {k: _amount(k, raw.get(k, default)) for k, default in DEFAULT_REQUEST.items()}


def request_tags(request: dict[str, float] | None) -> dict[str, str]:
    if not request:
        return {}
    return {CPUS_TAG: f"{request['cpus']:g}", GPUS_TAG: f"{request['gpus']:g}"}


def request_of(tags: dict[str, str]) -> dict[str, float]:
    """The request a run was launched with (the defaults for a run launched without one)."""
    out = dict(DEFAULT_REQUEST)
    for key, tag in (("cpus", CPUS_TAG), ("gpus", GPUS_TAG)):
        try:
            out[key] = float(tags[tag])
        except (KeyError, ValueError):
            continue
    return out
