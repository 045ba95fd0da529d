"""Trainers never receive the dashboard's secrets: the login settings, an identity provider's
client secret, tokens. Checked on the allow-list and on a real trainer process's environment."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from launch_util import runtime_in_tmp  # noqa: F401 - autouse fixture

from experiments import queue
from experiments.executors.local import LocalExecutor, child_env
from trainers import run_status
from trainers.spec import build_spec

SECRETS = {
    "RUNBOARD_AUTH": "accounts", "RUNBOARD_ACCOUNTS": "/srv/runboard/accounts.toml",
    "RUNBOARD_OIDC_CLIENT_SECRET": "oidc-secret-value", "RUNBOARD_SESSION_SECRET": "cookie-secret-value",
    "STREAMLIT_SERVER_COOKIE_SECRET": "streamlit-cookie-value", "client_secret": "root-level-secrets-toml",
    "AWS_SECRET_ACCESS_KEY": "aws-value", "GITHUB_TOKEN": "gh-value",
}
NEEDED = {"RUNBOARD_FAMILIES": "tiny_family", "RUNBOARD_ARTIFACT_ROOT": "file:///tmp/a",
          "MLFLOW_TRACKING_PASSWORD": "the-store-password", "PATH": "/usr/bin"}


def test_the_allow_list_keeps_secrets_out_and_what_trainers_need_in():
    env = child_env("sqlite:///x.db", {**SECRETS, **NEEDED})
    assert not set(SECRETS) & set(env)
    assert {k: env[k] for k in NEEDED} == NEEDED


def test_an_operator_can_still_pass_a_named_variable_on_purpose():
    env = child_env("sqlite:///x.db", {**SECRETS, "RUNBOARD_ENV_ALLOW": "GITHUB_TOKEN"})
    assert env["GITHUB_TOKEN"] == "gh-value" and "RUNBOARD_ACCOUNTS" not in env


def test_a_started_trainer_process_has_none_of_the_dashboards_secrets(sqlite_store, monkeypatch):
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    run_id = queue.submit(build_spec("mlp", {}, run_name="env-check"))
    assert run_status.claim(run_id)
    executor = LocalExecutor(limit=1)
    executor.start(run_id)
    pid = executor._procs[run_id].pid
    try:
        # The environment a process was exec'd with; Popen returns only after the exec.
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    finally:
        os.killpg(pid, signal.SIGKILL)  # the trainer leads its own process group
        executor._procs[run_id].wait()
    env = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
    assert env["MLFLOW_TRACKING_URI"] == sqlite_store  # it is the trainer's environment we read
    assert not set(SECRETS) & set(env), set(SECRETS) & set(env)
    assert not any(value in raw_value for value in SECRETS.values() for raw_value in env.values())
