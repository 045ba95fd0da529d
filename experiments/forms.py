"""A launch form generated from a family's typed config, and validation that maps errors to fields.

Pure: no store, no processes. ``form_fields(family)`` describes one widget per config field;
``validate(family, raw, ...)`` runs the submitted raw values (strings from text inputs, or typed
values from number inputs and toggles) through ``trainers.spec.build_spec`` — the same code the CLI
and experiment files use — and returns either a spec or one message per offending field.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import annotated_types as at

from trainers import tracking
from trainers.config import ConfigError
from trainers.excerpt import excerpt
from trainers.registry import families
from trainers.spec import RunSpec, build_spec, load_file


@dataclass(frozen=True)
class FormField:
    name: str
    kind: str  # "number" | "int" | "choice" | "bool" | "text"
    default: Any
    help: str
    minimum: float | None = None  # bounds as declared; *_exclusive says whether the end itself is allowed
    maximum: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    options: tuple = ()


def _kind(annotation) -> tuple[str, tuple]:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # Optional[X] -> X
        rest = [a for a in args if a is not type(None)]
        return _kind(rest[0]) if len(rest) == 1 else ("text", ())
    if typing.get_origin(annotation) is Literal:
        return "choice", args
    if annotation is bool:  # before int: bool is an int
        return "bool", ()
    if annotation is int:
        return "int", ()
    if annotation is float:
        return "number", ()
    return "text", ()


def _bounds(metadata: list) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in metadata:
        if isinstance(m, (at.Ge, at.Gt)):
            out["minimum"], out["min_exclusive"] = (m.ge, False) if isinstance(m, at.Ge) else (m.gt, True)
        elif isinstance(m, (at.Le, at.Lt)):
            out["maximum"], out["max_exclusive"] = (m.le, False) if isinstance(m, at.Le) else (m.lt, True)
    return out


def form_fields(family: str) -> list[FormField]:
    """One description per config field, in the config's order (shared fields first)."""
    config = families()[family].config
    out = []
    for name, info in config.model_fields.items():
        kind, options = _kind(info.annotation)
        out.append(
            FormField(name, kind, info.default, info.description or "", options=options, **_bounds(info.metadata))
        )
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
    return None if value is None or value == "" else value  # blank: keep the default


def validate(
    family: str, raw: dict[str, Any], experiment: Any = None, run_name: Any = None
) -> tuple[RunSpec | None, dict[str, str]]:
    """``(spec, {})`` for a launchable form, else ``(None, {field: message})``. Never raises for
    bad input: every problem becomes a message on the field it belongs to."""
    if family not in families():
        return None, {"family": f"family: unknown family {excerpt(family)}"}
    values = {str(k): v for k, v in raw.items() if _clean(v) is not None}
    values = {k: _clean(v) for k, v in values.items()}
    names = {"experiment": _clean(experiment), "name": _clean(run_name)}
    errors: dict[str, str] = {}
    for key, value in values.items():  # each field alone, so every bad field gets its own message
        try:
            build_spec(family, {key: value})
        except ConfigError as err:
            errors[key] = str(err)
    for field, value in names.items():
        try:
            build_spec(family, {}, **{"experiment" if field == "experiment" else "run_name": value})
        except ConfigError as err:
            errors[field] = str(err)
    if errors:
        return None, errors
    try:  # together: rules that span fields
        return build_spec(family, values, names["experiment"], names["name"]), {}
    except ConfigError as err:
        return None, {err.field or "config": str(err)}


def sweep_field(family: str, field: str, text: str, log: bool = False, num: int = 3) -> list | dict:
    """A sweep form's entry for one field: ``"16, 32, 64"`` -> typed choices, ``"1e-4..1e-1"`` ->
    a range (``log`` for rates, ``num`` grid points). Raises ``ConfigError`` naming the field."""
    text = str(text).strip()
    if ".." in text:
        low, high = (part.strip() for part in text.split("..", 1))
        try:
            return {"low": float(low), "high": float(high), "log": bool(log), "num": int(num)}
        except ValueError:
            raise ConfigError(
                f"{field}: a range is low..high with two numbers (got {excerpt(text)})", field=field
            ) from None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ConfigError(f"{field}: list values (a, b, c) or give a range (low..high)", field=field)
    return [getattr(build_spec(family, {field: p}).config, field) for p in parts]


def experiment_files() -> dict[str, dict]:
    """``experiments/*.yaml`` by file name, each read and checked by ``trainers.spec.load_file``."""
    out = {}
    for path in sorted((tracking.REPO / "experiments").glob("*.y*ml")):
        try:
            out[path.name] = load_file(path)
        except ConfigError:
            continue  # a broken file is reported by the CLI; the form offers the valid ones
    return out
