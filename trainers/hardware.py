"""Hardware settings (accelerator, devices, precision, strategy, ...) as Lightning ``Trainer``
arguments, the check that a requested GPU exists, and the device count a launch reserved.

``TrainConfig`` holds the validated settings; this module turns them into ``pl.Trainer`` keyword
arguments. Nothing here hard-codes a device: ``auto`` lets Lightning pick (a machine with a GPU uses it).
"""

from __future__ import annotations

import os

from trainers.config import ConfigError

# The devices a launch reserved (a Ray job's GPU request), set by the executor in the job's env.
DEVICES_ENV = "RUNBOARD_DEVICES"

ACCELERATORS = ("auto", "cpu", "gpu", "mps")
PRECISIONS = ("32", "16-mixed", "bf16-mixed")
STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_true", "fsdp")


def device_env(gpus: float) -> dict[str, str]:
    """Env for a job that reserved ``gpus``: whole GPUs become the trainer's device count."""
    return {DEVICES_ENV: str(int(gpus))} if gpus >= 1 else {}


def _devices(cfg) -> int | str:
    value = str(cfg.devices)
    reserved = os.environ.get(DEVICES_ENV, "")
    if value == "auto" and reserved.isdigit() and int(reserved) > 0:
        return int(reserved)
    if value == "all":
        return -1
    return int(value) if value.isdigit() else value


def _accelerator(cfg) -> str:
    reserved = os.environ.get(DEVICES_ENV, "")
    if cfg.accelerator == "auto" and reserved.isdigit() and int(reserved) > 0:
        return "gpu"
    return cfg.accelerator


def trainer_kwargs(cfg) -> dict:
    """``pl.Trainer`` keyword arguments for the hardware settings of a validated config."""
    return {
        "accelerator": _accelerator(cfg), "devices": _devices(cfg), "precision": cfg.precision,
        "strategy": cfg.strategy,  # the gradient settings exist only for automatic optimisation
        "accumulate_grad_batches": getattr(cfg, "accumulate_grad_batches", 1),
        "gradient_clip_val": getattr(cfg, "gradient_clip_val", 0.0) or None,
    }


def gpu_count() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def check_available(cfg) -> None:
    """Raise ``ConfigError`` (one line) when the settings ask for hardware this machine lacks."""
    accelerator = _accelerator(cfg)
    if accelerator == "gpu":
        have = gpu_count()
        if have == 0:
            raise ConfigError("accelerator: 'gpu' requested but this machine has no usable CUDA GPU "
                              "(torch.cuda.is_available() is False)", field="accelerator")
        devices = _devices(cfg)
        if isinstance(devices, int) and devices > have:
            raise ConfigError(f"devices: {devices} GPUs requested but this machine has {have}", field="devices")
    if accelerator == "mps":
        import torch

        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ConfigError("accelerator: 'mps' requested but MPS is not available here", field="accelerator")


def checked(spec):
    """``spec`` after ``check_available``: the CLI refuses before it creates a run."""
    check_available(spec.config)
    return spec
