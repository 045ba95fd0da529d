"""A run spec: family + validated config + where to log it. Built once at the boundary.

The same ``build_spec`` serves the CLI (``--set`` strings), experiment YAML files (typed values)
and, later, the web form, so all three reject the same things with the same messages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from trainers import registry
from trainers.config import ConfigError, TrainConfig, validate

# Names end up in the UI, in tags and in log lines: keep them plain words. No leading '-'
# (never mistaken for a flag) and no shell metacharacters.
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9 _.,:=+/@-]{0,99}$")
YAML_KEYS = {"family", "experiment", "name", "config"}


@dataclass(frozen=True)
class RunSpec:
    family: str
    config: TrainConfig
    experiment: str | None = None
    run_name: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {"family": self.family, "config": self.config.model_dump(), "experiment": self.experiment, "name": self.run_name},
            sort_keys=True,
        )


def check_name(value: str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError(
            f"{field}: must be 1-100 letters, digits, spaces or _ . , : = + / @ - and not start with '-' (got {value!r})",
            field=field,
        )
    return value


def build_spec(family: str, values: dict[str, Any] | None = None, experiment: str | None = None, run_name: str | None = None) -> RunSpec:
    """Validate everything a launch needs; raises ``ConfigError`` and touches no store."""
    fam = registry.get(family)
    config = validate(fam.config, dict(values or {}), family)
    return RunSpec(family, config, check_name(experiment, "experiment"), check_name(run_name, "name"))


def load_file(path: str | Path) -> dict[str, Any]:
    """Read an experiment file: ``family`` plus only what differs from its defaults."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such experiment file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping with 'family' and 'config'")
    unknown = sorted(set(doc) - YAML_KEYS)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key in {path.name} (allowed: {', '.join(sorted(YAML_KEYS))})", field=unknown[0])
    if not isinstance(doc.get("family"), str):
        raise ConfigError(f"family: {path.name} must name a model family", field="family")
    if not isinstance(doc.get("config") or {}, dict):
        raise ConfigError(f"config: {path.name} must map field names to values", field="config")
    return doc


def spec_from_target(target: str, overrides: dict[str, Any], experiment: str | None = None, run_name: str | None = None) -> RunSpec:
    """``target`` is a family name or a YAML file; overrides win over the file's values."""
    if target.endswith((".yaml", ".yml")) or "/" in target:
        doc = load_file(target)
        values = {**(doc.get("config") or {}), **overrides}
        return build_spec(doc["family"], values, experiment or doc.get("experiment"), run_name or doc.get("name"))
    return build_spec(target, overrides, experiment, run_name)


def spec_from_json(text: str) -> RunSpec:
    doc = json.loads(text)
    return build_spec(doc["family"], doc.get("config") or {}, doc.get("experiment"), doc.get("name"))
