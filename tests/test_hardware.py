"""Hardware settings, DDP with one run, interval checkpoints and --resume (issue 14, part 2)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainers import run_status, run_tags, tracking
from trainers.hardware import gpu_count
from trainers.registry import families
from trainers.train import main

TESTS = Path(__file__).parent


def cli(*args, **kw):
    env = {**os.environ, "PYTHONPATH": f"{tracking.REPO}{os.pathsep}{TESTS}"}
    return subprocess.Popen([sys.executable, "-m", "trainers.train", *args], cwd=tracking.REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def all_runs(uri):
    c = tracking.client(uri)
    return [r for e in c.search_experiments() for r in c.search_runs([e.experiment_id])]


@pytest.mark.parametrize("args, field", [
    (["mlp", "--set", "devices=0"], "devices"),
    (["mlp", "--set", "precision=fp7"], "precision"),
    (["mlp", "--set", "strategy=warp"], "strategy"),
    (["mlp", "--set", "accelerator=tpu9"], "accelerator"),
    (["mlp", "--set", "accumulate_grad_batches=0"], "accumulate_grad_batches"),
    (["mlp", "--set", "gradient_clip_val=-1"], "gradient_clip_val"),
])
def test_bad_hardware_setting_is_one_line_and_creates_no_run(args, field, sqlite_store, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"config error: {field}:")
    assert all_runs(sqlite_store) == []


@pytest.mark.skipif(gpu_count() > 0, reason="this machine has a GPU")
def test_gpu_requested_on_a_machine_without_one(sqlite_store, capsys):
    assert main(["mlp", "--set", "accelerator=gpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("config error: accelerator:") and "no usable CUDA GPU" in err
    assert all_runs(sqlite_store) == []
    # a launched (already created) run whose GPU is absent at train time ends FAILED with that reason
    from trainers.spec import build_spec
    client = tracking.client()
    spec = build_spec("mlp", {"accelerator": "gpu"})
    run_id = client.create_run(tracking.experiment_id(None)).info.run_id
    client.set_tag(run_id, run_tags.SPEC, spec.to_json())
    assert main(["--run-id", run_id]) == 1
    run = client.get_run(run_id)
    assert run.info.status == "FAILED" and "no usable CUDA GPU" in run.data.tags[run_tags.ERROR]


def test_hardware_defaults_are_auto_and_reach_the_trainer(monkeypatch):
    from trainers.hardware import DEVICES_ENV, device_env, trainer_kwargs
    from trainers.spec import build_spec

    cfg = build_spec("mlp").config
    assert (cfg.accelerator, cfg.devices, cfg.strategy, cfg.precision) == ("auto", "auto", "auto", "32")
    assert trainer_kwargs(cfg)["accelerator"] == "auto"
    assert trainer_kwargs(build_spec("mlp", {"devices": "all"}).config)["devices"] == -1
    # a Ray launch's GPU request reaches the trainer as its devices
    assert device_env(2.0) == {DEVICES_ENV: "2"} and device_env(0.5) == {}
    monkeypatch.setenv(DEVICES_ENV, "2")
    kw = trainer_kwargs(cfg)
    assert (kw["accelerator"], kw["devices"]) == ("gpu", 2)
    kw = trainer_kwargs(build_spec("mlp", {"accelerator": "cpu", "devices": "1"}).config)
    assert (kw["accelerator"], kw["devices"]) == ("cpu", 1)  # explicit settings win


@pytest.mark.slow
def test_ddp_two_cpu_ranks_make_one_finished_run_with_one_point_per_step(sqlite_store):
    proc = cli("mlp", "--set", "strategy=ddp", "--set", "devices=2", "--set", "accelerator=cpu",
               "--set", "max_epochs=2")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    runs = all_runs(sqlite_store)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    run_id = runs[0].info.run_id
    assert out.strip().splitlines()[-1] == run_id
    steps = [m.step for m in tracking.client().get_metric_history(run_id, "train/loss")]
    assert len(steps) > 2 and sorted(steps) == list(range(len(steps)))  # one point per step, none twice


RESUME_FAMILIES = ["mlp"] + (["gpt"] if "gpt" in families() else [])


@pytest.mark.slow
@pytest.mark.parametrize("family, how", [*((f, "cli") for f in RESUME_FAMILIES), ("mlp", "queue")])
def test_kill_9_after_a_checkpoint_then_resume_continues_the_same_run(family, how, sqlite_store):
    """``how``: ``--resume <run id>`` by hand, or the Resume button's path (the run, marked FAILED by
    the reaper, is queued again and its worker starts ``--run-id``)."""
    args = [family, "--set", "checkpoint_every_n_steps=10", "--set", "accelerator=cpu"]
    if family == "mlp":
        args += ["--set", "batch_size=16", "--set", "max_epochs=3"]
    proc = cli(*args, start_new_session=True)
    client, deadline, run_id = tracking.client(), time.time() + 300, None
    while time.time() < deadline:
        runs = all_runs(sqlite_store)
        if runs and run_tags.CHECKPOINT_STEP in runs[0].data.tags:
            run_id = runs[0].info.run_id
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    assert run_id, "no checkpoint in time"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    run = client.get_run(run_id)
    assert run.info.status == "RUNNING"  # kill -9: nobody ended it
    ckpt_step = int(run.data.tags[run_tags.CHECKPOINT_STEP])
    before = [m.step for m in client.get_metric_history(run_id, "train/loss")]
    assert max(before) >= ckpt_step - 1

    if how == "cli":
        proc = cli("--resume", run_id)
    else:
        from experiments import resume

        assert run_status.end_if_active(run_id, "FAILED", "trainer died", sqlite_store)  # what the reaper does
        assert resume.request(run_id, sqlite_store) == "queued"
        assert client.get_run(run_id).info.status == "SCHEDULED"
        proc = cli("--run-id", run_id)  # what the worker starts for a queued run
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    assert out.strip().splitlines()[-1] == run_id
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and len(all_runs(sqlite_store)) == 1
    assert run.data.tags[run_tags.RESUMED_FROM_STEP] == str(ckpt_step)
    steps = sorted(m.step for m in client.get_metric_history(run_id, "train/loss"))
    assert steps == list(range(len(steps))) and len(steps) > max(before) + 1  # continues: none twice, none missing


def test_resume_refuses_a_run_without_a_checkpoint(sqlite_store, capsys):
    client = tracking.client()
    run_id = client.create_run(tracking.experiment_id(None)).info.run_id
    client.set_terminated(run_id, "FAILED")
    assert main(["--resume", run_id]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no checkpoint" in err


def test_run_page_resume_button_queues_a_failed_run_with_a_checkpoint(sqlite_store):
    from app_util import open_page

    client = tracking.client()
    eid = tracking.experiment_id(None)
    with_ckpt, without = (client.create_run(eid).info.run_id for _ in range(2))
    client.set_tag(with_ckpt, run_tags.CHECKPOINT_STEP, "10")
    client.set_tag(with_ckpt, run_tags.SPEC, '{"family": "mlp", "config": {}}')
    for rid in (with_ckpt, without):
        client.set_terminated(rid, "FAILED")
    assert not [b for b in open_page("run", run=without).button if b.label == "Resume"]
    at = open_page("run", run=with_ckpt)
    (button,) = [b for b in at.button if b.label == "Resume"]
    button.click().run()
    assert not at.exception
    run = client.get_run(with_ckpt)
    assert run.info.status == "SCHEDULED" and run_tags.RESUME_REQUESTED in run.data.tags
