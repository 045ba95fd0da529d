"""Typed configs, validated once where they enter (CLI, YAML, web form).

Every family's config is a flat pydantic model that extends ``TrainConfig``: one namespace of
fields, so ``--set lr=0.01`` and a form field mean the same thing. Unknown keys and wrong types
are rejected with ``ConfigError``, whose message is one line naming the field and the rule.

A config holds only settings that are applied: ``TrainConfig``'s, which ``trainers.train`` applies
to every run (seed, Lightning ``Trainer``, checkpoints), ``GradientConfig``'s for a module that
Lightning optimises, plus what the family's module and data module take. ``SystemConfig`` adds
the optimiser and split settings of ``trainers.systems`` and
``trainers.data``, for the families built on them; a registered family gets each of those rules
only when its own ``__init__`` takes the field (``trainers.registry``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trainers.excerpt import excerpt

MAX_ERRORS = 3  # an error line names the first few bad fields, never an unbounded list


class ConfigError(ValueError):
    """A config that cannot be trained. ``str(err)`` is one line naming the field and the rule."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class TrainConfig(BaseModel):
    """Settings every family shares, applied by ``trainers.train`` itself: the seed, the Lightning
    ``Trainer`` and interval checkpoints."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    seed: int = Field(0, ge=0, le=2**31 - 1, description="Random seed for the split, init and shuffling.")
    max_epochs: int = Field(5, ge=1, le=10_000, description="Epochs to train.")
    max_steps: int = Field(-1, ge=-1, le=10_000_000, description="Stop after this many steps (-1: no limit).")
    log_every_n_steps: int = Field(1, ge=1, le=10_000, description="Log train/loss every N steps.")
    # hardware (see trainers.hardware): auto lets Lightning pick; a machine with a GPU uses it
    accelerator: Literal["auto", "cpu", "gpu", "mps"] = Field("auto", description="Device kind.")
    devices: str = Field("auto", description="How many devices: a positive number, auto or all.")
    precision: Literal["32", "16-mixed", "bf16-mixed"] = Field("32", description="Numeric precision.")
    strategy: Literal["auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_true", "fsdp"] = Field(
        "auto", description="Distributed strategy.")
    # resume (see trainers.resume): a checkpoint uploaded as an artifact on an interval
    checkpoint_every_n_steps: int = Field(
        0, ge=0, le=10_000_000, description="Upload a checkpoint every N steps (0: off)."
    )
    checkpoint_every_s: float = Field(300.0, ge=0, le=1e7, description="Upload a checkpoint every N seconds (0: off).")

    @field_validator("precision", mode="before")
    @classmethod
    def _precision_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("devices", mode="before")
    @classmethod
    def _devices_rule(cls, value: Any) -> str:
        text = str(value).strip().lower()
        if text in ("auto", "all") or (text.isdigit() and 1 <= int(text) <= 1024):
            return text
        raise ValueError("a whole number from 1 to 1024, auto or all")


class GradientConfig(TrainConfig):
    """``TrainConfig`` plus Lightning's gradient settings. The ``Trainer`` applies them under
    automatic optimisation only (and refuses them otherwise): a module that steps its own
    optimisers (``automatic_optimization = False``) gets ``TrainConfig`` without them."""

    accumulate_grad_batches: int = Field(1, ge=1, le=10_000, description="Batches per optimizer step.")
    gradient_clip_val: float = Field(0.0, ge=0, le=1e6, description="Clip gradient norm to this (0: off).")


class SystemConfig(GradientConfig):
    """``GradientConfig`` plus what ``trainers.systems.System`` (optimiser) and ``trainers.data``'s
    modules (batch and split) take. The one home of these fields' rules: a registered family
    whose ``__init__`` names one of them gets the rule with its own default."""

    batch_size: int = Field(64, ge=1, le=65_536, description="Examples per training step.")
    lr: float = Field(1e-3, gt=0, le=10, description="Learning rate.")
    optimizer: Literal["adam", "adamw", "sgd"] = Field("adam", description="Optimizer.")
    weight_decay: float = Field(0.0, ge=0, le=1, description="L2 weight decay.")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="Share of the data held out for validation.")


def field_rule(err: dict[str, Any]) -> str:
    """pydantic's message for one error, without its documentation URL."""
    return err["msg"].split("\n")[0]


def format_errors(exc: ValidationError, family: str) -> ConfigError:
    parts, first = [], None
    errors = exc.errors()
    for err in errors[:MAX_ERRORS]:
        name = ".".join(str(p) for p in err["loc"]) or "config"
        first = first or name
        if len(name) > 40:  # an unknown key can be as long as the input
            name = excerpt(name, 40)
        if err["type"] == "extra_forbidden":
            parts.append(f"{name}: unknown field for family {excerpt(family, 40)}")
        elif err["type"] == "finite_number":
            parts.append(f"{name}: must be a finite number (got {excerpt(err.get('input'))})")
        else:
            parts.append(f"{name}: {field_rule(err)[:200]} (got {excerpt(err.get('input'))})")
    if len(errors) > MAX_ERRORS:
        parts.append(f"and {len(errors) - MAX_ERRORS} more")
    return ConfigError("; ".join(parts), field=first)


def validate(config_cls: type[TrainConfig], values: dict[str, Any], family: str) -> TrainConfig:
    """Build a family config from raw values (strings from the CLI or typed values from YAML)."""
    try:
        return config_cls.model_validate(values)
    except ValidationError as exc:
        raise format_errors(exc, family) from None


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``["lr=0.1", "hidden=64"]`` -> ``{"lr": "0.1", "hidden": "64"}``; pydantic converts types."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {excerpt(pair)}: expected key=value", field=(key or None) and key[:100])
        out[key.strip()] = value.strip()
    return out
