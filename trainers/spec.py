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
from trainers.excerpt import excerpt

# Names end up in the UI, in tags and in log lines: keep them plain words. No leading '-'
# (never mistaken for a flag) and no shell metacharacters.
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9 _.,:=+/@-]{0,99}$")
YAML_KEYS = {"family", "experiment", "name", "config"}
MAX_YAML_BYTES = 64 * 1024  # an experiment file is a few lines; anything this big is a mistake


@dataclass(frozen=True)
class RunSpec:
    family: str
    config: TrainConfig
    experiment: str | None = None
    run_name: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "family": self.family,
                "config": self.config.model_dump(),
                "experiment": self.experiment,
                "name": self.run_name,
            },
            sort_keys=True,
        )


def check_name(value: str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError(
            f"{field}: must be 1-100 letters, digits, spaces or _ . , : = + / @ - "
            f"and not start with '-' (got {excerpt(value)})",
            field=field,
        )
    return value


def build_spec(
    family: str, values: dict[str, Any] | None = None, experiment: str | None = None, run_name: str | None = None
) -> RunSpec:
    """Validate everything a launch needs; raises ``ConfigError`` and touches no store."""
    fam = registry.get(family)
    config = validate(fam.config, dict(values or {}), family)
    return RunSpec(family, config, check_name(experiment, "experiment"), check_name(run_name, "name"))


def load_file(path: str | Path) -> dict[str, Any]:
    """Read an experiment file: ``family`` plus only what differs from its defaults."""
    path = Path(path)
    shown = excerpt(str(path), 80)
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise ConfigError(f"{shown}: experiment file is {size:,} bytes; the limit is {MAX_YAML_BYTES:,}")
        text = path.read_text(errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError(f"{shown}: no such experiment file") from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read ({excerpt(exc.strerror or type(exc).__name__, 80)[1:-1]})") from None
    doc = parse_yaml(text, shown)
    if not isinstance(doc, dict):
        raise ConfigError(f"{shown}: expected a mapping with 'family' and 'config'")
    unknown = sorted(set(doc) - YAML_KEYS)
    if unknown:
        raise ConfigError(
            f"{excerpt(unknown[0], 40)}: unknown key in {excerpt(path.name, 80)} "
            f"(allowed: {', '.join(sorted(YAML_KEYS))})",
            field=unknown[0],
        )
    if not isinstance(doc.get("family"), str):
        raise ConfigError(f"family: {excerpt(path.name, 80)} must name a model family", field="family")
    if not isinstance(doc.get("config") or {}, dict):
        raise ConfigError(f"config: {excerpt(path.name, 80)} must map field names to values", field="config")
    return doc


def parse_yaml(text: str, shown: str = "experiment file") -> Any:
    """``yaml.safe_load`` that refuses anchors and aliases before anything is built: a few lines
    of aliases can expand to gigabytes ("billion laughs"), and experiment files never need them."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise ConfigError(
                    f"{shown}: YAML anchors and aliases (&name, *name) are not allowed in experiment files"
                )
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{shown}: not valid YAML ({excerpt(str(exc).splitlines()[0], 120)[1:-1]})") from None


def spec_from_target(
    target: str, overrides: dict[str, Any], experiment: str | None = None, run_name: str | None = None
) -> RunSpec:
    """``target`` is a family name or a YAML file; overrides win over the file's values."""
    if target.endswith((".yaml", ".yml")) or "/" in target:
        doc = load_file(target)
        values = {**(doc.get("config") or {}), **overrides}
        return build_spec(doc["family"], values, experiment or doc.get("experiment"), run_name or doc.get("name"))
    return build_spec(target, overrides, experiment, run_name)


# Every config had these fields before a family's config held only what it applies: a spec stored
# then (a queued or resumable run) still names them for families that never used them.
FORMER_SHARED = ("batch_size", "lr", "optimizer", "weight_decay", "val_fraction", "accumulate_grad_batches",
                 "gradient_clip_val")


def spec_from_json(text: str) -> RunSpec:
    doc = json.loads(text)
    known = registry.get(doc["family"]).config.model_fields
    config = {k: v for k, v in (doc.get("config") or {}).items() if k in known or k not in FORMER_SHARED}
    return build_spec(doc["family"], config, doc.get("experiment"), doc.get("name"))
