"""What a model family is (``Family``: a name, a typed config, a build function) and how one is
made from a LightningModule/DataModule pair (``family_of``). Apart from the registry so that the
family files, which the registry imports, do not import the registry back.

A pair's config is derived from the two ``__init__`` signatures plus the shared ``TrainConfig`` (the
settings ``trainers.train`` applies to every run): a field the classes do not take is not offered,
so nothing is recorded on a run that the run did not use.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field, create_model

from trainers.config import GradientConfig, SystemConfig, TrainConfig

if TYPE_CHECKING:  # importing this must not import torch: the dashboard reads the registry
    import pytorch_lightning as pl

Build = Callable[[Any], "tuple[pl.LightningModule, pl.LightningDataModule]"]


@dataclass(frozen=True)
class Family:
    name: str
    config: type[TrainConfig]
    build: Build  # config -> (module, datamodule)
    summary: str = ""


def _init_params(cls: type) -> dict[str, inspect.Parameter]:
    skip = {"self", "args", "kwargs"}
    try:  # resolve string annotations (``from __future__ import annotations``) to read Annotated rules
        sig = inspect.signature(cls.__init__, eval_str=True)
    except Exception:  # noqa: BLE001 - an unresolvable annotation: fall back to the defaults' types
        sig = inspect.signature(cls.__init__)
    return {k: p for k, p in sig.parameters.items() if k not in skip}


def manual_optimization(module_cls: type) -> bool:
    """Whether the module steps its own optimisers, declared on the class
    (``automatic_optimization = False``) so it is known before anything is built."""
    return getattr(module_cls, "automatic_optimization", True) is False


def _config_from(name: str, module_cls: type, datamodule_cls: type) -> type[TrainConfig]:
    """A pydantic config whose fields are the shared settings the trainer applies to this module
    plus the classes' ``__init__`` arguments (typed, defaulted). A known name (``lr``,
    ``batch_size``…) keeps its one rule from ``SystemConfig``."""
    base = TrainConfig if manual_optimization(module_cls) else GradientConfig
    fields: dict[str, Any] = {}
    for cls in (module_cls, datamodule_cls):
        for key, p in _init_params(cls).items():
            if key in fields:
                continue
            if key in SystemConfig.model_fields:
                if key in base.model_fields and p.default is inspect.Parameter.empty:
                    continue  # inherited from the base as it is
                shared = copy.copy(SystemConfig.model_fields[key])
                if p.default is not inspect.Parameter.empty:  # the user's default wins, the rules stay
                    shared.default = p.default
                fields[key] = (shared.annotation, shared)
                continue
            if p.default is inspect.Parameter.empty:
                raise TypeError(f"{cls.__name__}.__init__ argument {key!r} needs a default to be configurable")
            ann = p.annotation if p.annotation is not inspect.Parameter.empty else type(p.default)
            if isinstance(ann, str):  # unresolved: the default's type is the best rule we have
                ann = type(p.default)
            fields[key] = (ann, Field(p.default))  # Annotated[..., Field(ge=…, description=…)] keeps its rules
    return create_model(f"{name.title()}Config", __base__=base, **fields)


def family_of(name: str, module_cls: type, datamodule_cls: type, summary: str = "") -> Family:
    """The ``Family`` that ``register`` would add, without adding it (built-ins use this so the
    registry keeps its listed order)."""
    config = _config_from(name, module_cls, datamodule_cls)

    def build(cfg: TrainConfig):
        values = cfg.model_dump()
        pick = lambda cls: {k: values[k] for k in _init_params(cls) if k in values}  # noqa: E731
        return module_cls(**pick(module_cls)), datamodule_cls(**pick(datamodule_cls))

    return Family(name, config, build, summary or (module_cls.__doc__ or "").strip().split("\n")[0])
