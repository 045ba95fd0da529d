"""Links into MLflow's own UI, when the operator names one (``RUNBOARD_MLFLOW_UI``)."""

from __future__ import annotations

import os

MLFLOW_UI_ENV = "RUNBOARD_MLFLOW_UI"


def mlflow_ui_url() -> str | None:
    """Base URL of MLflow's own UI for this store, when the operator configured one."""
    url = os.environ.get(MLFLOW_UI_ENV, "").strip().rstrip("/")
    return url if url.startswith(("http://", "https://")) else None


def mlflow_run_url(experiment_id: str, run_id: str) -> str | None:
    base = mlflow_ui_url()
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}" if base else None
