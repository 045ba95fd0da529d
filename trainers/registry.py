"""The one registry of model families, a plain dict read by the CLI and the web form.

Adding a built-in family is one file in ``trainers/families/`` plus one line in ``_builtin``.
A user's own LightningModule/DataModule pair is one line::

    from trainers.registry import register
    register("mymodel", MyModule, MyDataModule)

in a module named by ``RUNBOARD_FAMILIES`` (comma-separated module names, imported on first use).
Its config is derived from the two ``__init__`` signatures (``trainers.family``).
"""

from __future__ import annotations

import importlib
import os

from trainers.config import ConfigError
from trainers.excerpt import excerpt
from trainers.family import Family, family_of

FAMILIES: dict[str, Family] = {}
_loaded = False


def _builtin() -> list[Family]:
    from trainers.families import cnn, gan, gpt, linreg, lstm, mlp, vae

    return [mlp.FAMILY, cnn.FAMILY, lstm.FAMILY, linreg.FAMILY, vae.FAMILY, gpt.FAMILY, gan.FAMILY]


def families() -> dict[str, Family]:
    """All families: built-ins, then the modules named in ``RUNBOARD_FAMILIES``."""
    global _loaded
    if not _loaded:
        _loaded = True
        for fam in _builtin():
            FAMILIES.setdefault(fam.name, fam)
        for name in filter(None, (s.strip() for s in os.environ.get("RUNBOARD_FAMILIES", "").split(","))):
            importlib.import_module(name)
    return FAMILIES


def get(name: str) -> Family:
    fams = families()
    if name not in fams:
        raise ConfigError(f"family: unknown family {excerpt(name)} (known: {', '.join(sorted(fams))})", field="family")
    return fams[name]


def register(name: str, module_cls: type, datamodule_cls: type, summary: str = "") -> Family:
    """Register a user's LightningModule/DataModule pair. Each gets the config values its
    ``__init__`` names (so ``lr``, ``batch_size``, ``seed``… reach whichever asks for them)."""
    fam = family_of(name, module_cls, datamodule_cls, summary)
    FAMILIES[name] = fam
    return fam
