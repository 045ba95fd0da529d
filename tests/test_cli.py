"""The CLI and the ways a run can end: config errors, exceptions, SIGTERM, four at once."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tiny_family  # noqa: F401 - registers the "tiny" family in this process

from trainers import tracking
from trainers.spec import build_spec
from trainers.train import main, train

TESTS = Path(__file__).parent


def cli(*args, env=None, **kw):
    full_env = {**os.environ, "PYTHONPATH": f"{tracking.REPO}{os.pathsep}{TESTS}", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "trainers.train", *args], cwd=tracking.REPO, env=full_env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw,
    )


def all_runs(uri):
    c = tracking.client(uri)
    return [r for e in c.search_experiments() for r in c.search_runs([e.experiment_id])]


@pytest.mark.parametrize(
    "args, field",
    [
        (["mlp", "--set", "lr=-1"], "lr"),
        (["mlp", "--set", "nosuchfield=1"], "nosuchfield"),
        (["mlp", "--set", "max_epochs=abc"], "max_epochs"),
        (["mlp", "--name", "x; rm -rf ~"], "name"),
        (["mlp", "--name=--help"], "name"),
    ],
)
def test_config_error_exits_2_with_one_line_and_creates_no_run(args, field, sqlite_store, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"config error: {field}:")
    assert all_runs(sqlite_store) == []


def test_yaml_with_unknown_key_is_rejected(sqlite_store, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("family: mlp\nconfig:\n  hidden: 64\n  hiden_units: 3\n")
    assert main([str(bad)]) == 2
    assert capsys.readouterr().err.strip() == "config error: hiden_units: unknown field for family 'mlp'"
    assert all_runs(sqlite_store) == []


def test_shipped_experiment_files_validate():
    from trainers.spec import spec_from_target

    for path in sorted((tracking.REPO / "experiments").glob("*.yaml")):
        assert spec_from_target(str(path), {}).family


def test_cli_exit_code_and_last_line_is_run_id(store):
    proc = cli("mlp", "--set", "max_epochs=1", "--set", "max_steps=5")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    run_id = out.strip().splitlines()[-1]
    assert tracking.client().get_run(run_id).info.status == "FINISHED"


def test_cli_config_error_from_a_real_process(sqlite_store):
    proc = cli("mlp", "--set", "lr=-1")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2 and "lr:" in err


def test_exception_in_training_step_fails_run_and_keeps_points(store):
    result = train(build_spec("tiny", {"max_epochs": 5, "fail_at_step": 40}))
    client = tracking.client()
    assert client.get_run(result.run_id).info.status == "FAILED"
    steps = [p.step for p in client.get_metric_history(result.run_id, "train/loss")]
    assert sorted(steps) == list(range(40))
    assert "deliberate failure" in client.get_run(result.run_id).data.tags["runboard.error"]


def wait_for_points(proc, n, timeout=120):
    client, deadline = tracking.client(), time.time() + timeout
    while time.time() < deadline:
        for run in all_runs(tracking.tracking_uri()):
            if len(client.get_metric_history(run.info.run_id, "train/loss")) >= n:
                return run.info.run_id
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.5)
    raise AssertionError("trainer logged no points in time")


def test_sigterm_during_training_ends_killed_with_points(store):
    proc = cli("tiny", "--set", "max_epochs=1000", "--set", "step_sleep=0.02", env={"RUNBOARD_FAMILIES": "tiny_family"})
    run_id = wait_for_points(proc, 10)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    client = tracking.client()
    assert client.get_run(run_id).info.status == "KILLED", err
    # the reason is the stop, not the exception Lightning raises for SIGTERM (issue 21)
    assert client.get_run(run_id).data.tags["runboard.error"] == "stopped by request"
    steps = sorted(p.step for p in client.get_metric_history(run_id, "train/loss"))
    assert len(steps) >= 10 and steps == list(range(len(steps)))
    assert proc.returncode == 1 and out.strip().splitlines()[-1] == run_id


def test_four_trainers_at_once_on_a_fresh_store(store):
    procs = [cli("mlp", "--set", "max_epochs=2", "--set", f"seed={i}") for i in range(4)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [o[1][-2000:] for o in outs]
    client = tracking.client()
    for out, _ in outs:
        run_id = out.strip().splitlines()[-1]
        run = client.get_run(run_id)
        total = int(run.data.tags["runboard.progress.total_steps"])
        assert len(client.get_metric_history(run_id, "train/loss")) == total
        assert len(client.get_metric_history(run_id, "val/acc")) == 2


def test_user_family_registered_in_one_line_runs_from_the_cli(sqlite_store):
    proc = cli("tiny", "--set", "max_epochs=2", "--set", "lr=0.01", env={"RUNBOARD_FAMILIES": "tiny_family"})
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    run = tracking.client().get_run(out.strip().splitlines()[-1])
    assert run.data.params["lr"] == "0.01" and run.data.tags["runboard.family"] == "tiny"
