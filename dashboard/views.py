"""Named views of the Runs page, kept in the store as experiment tags so every teammate sees them.

A view is the Runs page's URL state (filter, columns, sort, workspace panels, grouping, smoothing)
without the experiment, as a query string, under ``VIEW + name``; ``DEFAULT_VIEW`` names the one an
experiment opens with. Because a view holds names, not ids, it applies to any experiment whose runs
have those metrics and params. Callers check who may write (``dashboard.auth``) before calling
``save`` / ``delete`` / ``set_default``; reads are for everyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from dashboard import data
from trainers import tracking
from trainers.run_tags import DEFAULT_VIEW, NAMESPACE, VIEW

# What an MLflow tag key may hold after the prefix (letters, digits, _ - . / and spaces), kept short.
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ .\-]{0,59}")
MAX_VALUE = 5000  # MLflow's limit on an experiment tag's value
NOT_SAVED = ("exp", "view")  # a view opens in whichever experiment is shown


class ViewError(ValueError):
    """A name or a view the store cannot hold: the page shows the message."""


@dataclass(frozen=True)
class View:
    experiment_id: str
    experiment: str  # the experiment's name, for labels
    name: str
    params: dict[str, str]  # the URL state
    default: bool


def check_name(name: str) -> str:
    name = name.strip()
    if not NAME.fullmatch(name):
        raise ViewError("A view's name is 1–60 letters, digits, spaces, _ - or . (starting with a "
                        "letter, digit or _).")
    return name


def encode(params: dict[str, str]) -> str:
    text = urlencode({k: v for k, v in sorted(params.items()) if k not in NOT_SAVED})
    if len(text) > MAX_VALUE:
        raise ViewError(f"This view is {len(text):,} characters as a link; the store keeps up to {MAX_VALUE:,}.")
    return text


def every_view(uri: str | None = None) -> list[View]:
    """Every experiment's saved views: one read of the experiments and their tags."""
    tags = data.experiment_tags(NAMESPACE, uri)  # through the data layer: no MLflow client on a SQL store
    defaults = {e: value for e, _, key, value in tags if key == DEFAULT_VIEW}
    return [
        View(e, name, key.removeprefix(VIEW), dict(parse_qsl(value)), key.removeprefix(VIEW) == defaults.get(e))
        for e, name, key, value in tags
        if key.startswith(VIEW)
    ]


def save(experiment_id: str, name: str, params: dict[str, str], default: bool = False,
         uri: str | None = None) -> str:
    """Store (or replace) the view; returns its checked name."""
    name, value = check_name(name), encode(params)
    client = tracking.client(uri)
    client.set_experiment_tag(experiment_id, VIEW + name, value)
    if default:
        client.set_experiment_tag(experiment_id, DEFAULT_VIEW, name)
    return name


def set_default(experiment_id: str, name: str | None, uri: str | None = None) -> None:
    """Make ``name`` the experiment's default view; None: no default."""
    client = tracking.client(uri)
    if name is None:
        _drop_tag(client, experiment_id, DEFAULT_VIEW)
    else:
        client.set_experiment_tag(experiment_id, DEFAULT_VIEW, check_name(name))


def delete(experiment_id: str, name: str, uri: str | None = None) -> None:
    client = tracking.client(uri)
    _drop_tag(client, experiment_id, VIEW + name)
    if client.get_experiment(experiment_id).tags.get(DEFAULT_VIEW) == name:
        _drop_tag(client, experiment_id, DEFAULT_VIEW)


def _drop_tag(client, experiment_id: str, key: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.delete_experiment_tag(experiment_id, key)
    except MlflowException:
        pass  # already gone (a teammate deleted it first): the outcome wanted
