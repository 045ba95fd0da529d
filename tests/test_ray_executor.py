"""The ``ray`` executor (issue 7) against a real local Ray head (``ray_head``, tests/ray_cluster.py)
and real trainers: runs launched through the Launch page logic (AppTest) become Ray jobs that
train to FINISHED, a sweep's trials too; Stop ends a run KILLED with its points; a job whose
process dies inside Ray fails its run; a new worker adopts a live job, and a stop sent from Ray's
side ends it KILLED. The tests at the top need
no cluster: choosing the executor, the resource request, and what the page says."""

import os
import shlex
import signal
import sys

import pytest
import streamlit as st
import tiny_family  # noqa: F401 - registers "tiny" in this process
from app_util import app_test
from launch_util import all_runs, kill_trainers, runtime_in_tmp, set_launch_env, wait_until  # noqa: F401 - autouse fixture

from experiments import activity, launch, placement, queue
from experiments.executors import configured
from experiments.executors.ray import job_env, job_id
from experiments.worker import start_in_thread
from trainers import tracking
from trainers.config import ConfigError
from trainers.run_record import ERROR_TAG, PID_TAG, TERMINAL
from trainers.spec import build_spec

RUN_TIMEOUT_S = 240  # a Ray job's worker start plus the trainer's cold start (torch, Lightning) on a busy machine


def status(run_id):
    return tracking.client().get_run(run_id).info.status


def job_status(jobs, run_id) -> str | None:
    """Ray's status of the run's job; None until it exists (the worker tags the run before it submits)."""
    try:
        return jobs.get_job_status(job_id(run_id)).value
    except RuntimeError:
        return None


def launch_page(**params):
    """The Launch page through the app's router (its confirmation's page links need it)."""
    return app_test("launch", **params).run()


def long_run() -> str:
    return queue.submit(build_spec("tiny", {"max_epochs": 1000, "step_sleep": 0.02}))


# -- no cluster needed ---------------------------------------------------------------------------

def test_the_executor_is_local_unless_the_setting_says_ray(monkeypatch):
    monkeypatch.delenv("RUNBOARD_EXECUTOR", raising=False)
    assert configured() == "local"
    monkeypatch.setenv("RUNBOARD_EXECUTOR", "Ray")
    assert configured() == "ray"
    monkeypatch.setenv("RUNBOARD_EXECUTOR", "kubernetes")
    with pytest.raises(ValueError, match="RUNBOARD_EXECUTOR"):
        configured()


def test_a_resource_request_is_validated_and_read_back_from_tags():
    assert placement.check_request(None) == {"cpus": 1.0, "gpus": 0.0}
    request = placement.check_request({"cpus": "0.5", "gpus": 2})
    assert placement.request_of(placement.request_tags(request)) == {"cpus": 0.5, "gpus": 2.0}
    for raw, field in [({"cpus": -1}, "cpus"), ({"cpus": "many"}, "cpus"), ({"gpus": 1.5}, "gpus"),
                       ({"gpus": float("nan")}, "gpus"), ({"memory": 1}, "memory")]:
        with pytest.raises(ConfigError) as err:
            placement.check_request(raw)
        assert err.value.field == field and str(err.value).startswith(f"{field}:")


def test_an_invalid_request_from_the_form_creates_no_run(sqlite_store):
    run_id, errors = launch.launch_form("tiny", {}, resources={"cpus": -2, "gpus": 0})
    assert run_id is None and set(errors) == {"cpus"} and all_runs() == []


def test_a_job_gets_the_allow_listed_environment_and_the_repository_on_its_path(sqlite_store, monkeypatch):
    monkeypatch.setenv("DASHBOARD_SECRET_TOKEN", "s3cret")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = job_env(sqlite_store)
    assert "DASHBOARD_SECRET_TOKEN" not in env and env["MLFLOW_TRACKING_URI"] == sqlite_store
    assert env["PYTHONPATH"].split(os.pathsep) == [str(tracking.REPO), "/elsewhere"]


def test_the_launch_page_says_runs_go_to_local_processes(sqlite_store, monkeypatch):
    monkeypatch.delenv("RUNBOARD_EXECUTOR", raising=False)
    at = launch_page(family="tiny")
    assert any("Runs go to local processes" in c.value for c in at.caption)
    assert not [n for n in at.number_input if n.key == "launch_cpus"]  # no resource fields for local runs


def test_the_launch_page_warns_when_the_ray_cluster_does_not_answer(sqlite_store, monkeypatch):
    from ray_cluster import _free_ports

    monkeypatch.setenv("RUNBOARD_EXECUTOR", "ray")
    monkeypatch.setenv("RAY_ADDRESS", f"http://127.0.0.1:{_free_ports(1)[0]}")  # nothing listens there
    at = launch_page(family="tiny")
    assert not at.exception
    assert "free resources are unknown" in at.warning[0].value and at.number_input(key="launch_cpus").value == 1.0


def test_runs_stay_queued_while_the_ray_cluster_does_not_answer(sqlite_store):
    from ray_cluster import _free_ports, require_ray

    require_ray()
    from experiments.executors.ray import RayExecutor
    from experiments.supervisor import Supervisor

    run_id = queue.submit(build_spec("tiny", {}))
    supervisor = Supervisor(RayExecutor(address=f"http://127.0.0.1:{_free_ports(1)[0]}"))
    with pytest.raises(ConnectionError):
        supervisor.tick()  # Supervisor.run logs it and tries again next poll
    assert status(run_id) == "SCHEDULED"


# -- a real Ray head -----------------------------------------------------------------------------

@pytest.fixture
def on_ray(ray_head, sqlite_store, monkeypatch):
    """Launches go to the session's Ray head; every job and trainer a test left is ended after it."""
    from ray.job_submission import JobSubmissionClient

    monkeypatch.setenv("RUNBOARD_EXECUTOR", "ray")
    monkeypatch.setenv("RAY_ADDRESS", ray_head)
    set_launch_env(monkeypatch)
    st.cache_resource.clear()
    jobs = JobSubmissionClient(ray_head)
    yield jobs
    for job in jobs.list_jobs():
        if (job.submission_id or "").startswith("runboard-") and job.status.value in ("PENDING", "RUNNING"):
            jobs.stop_job(job.submission_id)
    kill_trainers()


@pytest.fixture
def worker(on_ray):
    w = start_in_thread(limit=2, poll_s=0.2)
    assert w is not None and w.supervisor.executor.name == "ray"
    yield w
    w.stop()


def test_a_run_launched_from_the_page_trains_as_a_ray_job_to_finished(on_ray, worker, sqlite_store, monkeypatch):
    monkeypatch.setenv("DASHBOARD_SECRET_TOKEN", "s3cret")  # in the launching process, never in the job
    at = launch_page(family="tiny")
    assert any("Ray jobs on the cluster" in c.value and "CPU free" in c.value for c in at.caption), \
        [c.value for c in at.caption]
    at.text_input(key="launch_family-tiny_max_epochs").input("2")
    at.number_input(key="launch_cpus").set_value(1.0)
    at.button(key="launch_go").click().run()
    assert not at.exception and not at.error
    [run] = all_runs()
    run_id = run.info.run_id
    assert run.data.tags[placement.CPUS_TAG] == "1" and run.data.tags[placement.GPUS_TAG] == "0"
    wait_until(lambda: status(run_id) in TERMINAL, RUN_TIMEOUT_S, 0.5, message="the run to end")
    run = tracking.client().get_run(run_id)
    assert run.info.status == "FINISHED", run.data.tags.get(ERROR_TAG)
    assert run.data.tags[queue.EXECUTOR] == "ray" and run.data.tags[queue.JOB] == job_id(run_id)
    assert len(tracking.client().get_metric_history(run_id, "train/loss")) == 64  # 2 epochs x 32 steps
    assert "val/loss" in run.data.metrics
    wait_until(lambda: on_ray.get_job_status(job_id(run_id)).value != "RUNNING", 60, message="the trainer to exit")
    job = on_ray.get_job_info(job_id(run_id))
    assert job.status.value == "SUCCEEDED" and job.driver_exit_code == 0
    assert job.entrypoint == shlex.join([sys.executable, "-m", "trainers.train", "--run-id", run_id])
    env = job.runtime_env["env_vars"]
    assert "DASHBOARD_SECRET_TOKEN" not in env and env["MLFLOW_TRACKING_URI"] == sqlite_store
    assert "status = FINISHED" in activity.logs(run_id, tail=200)  # the Activity page's log: Ray's


def test_a_grid_sweep_from_the_page_runs_every_trial_as_a_ray_job(on_ray, worker):
    at = launch_page(family="tiny")
    at.text_input(key="launch_family-tiny_max_epochs").input("1")
    at.multiselect(key="launch_sweep_fields").set_value(["lr"]).run()
    at.text_input(key="launch_sweep_lr").input("0.01, 0.02, 0.04, 0.08")
    at.number_input(key="launch_sweep_parallel").set_value(2)
    at.button(key="launch_sweep_go").click().run()
    assert not at.exception and not at.error
    [parent] = [r for r in all_runs() if queue.SWEEP_KIND in r.data.tags]
    parent_id = parent.info.run_id
    wait_until(lambda: status(parent_id) in TERMINAL, 2 * RUN_TIMEOUT_S, 0.5, message="the sweep to end")
    kids = queue.children(parent_id, parent.info.experiment_id)
    assert [k.info.status for k in kids] == ["FINISHED"] * 4, [k.data.tags.get(ERROR_TAG) for k in kids]
    assert sorted(k.data.params["lr"] for k in kids) == ["0.01", "0.02", "0.04", "0.08"]
    assert {k.data.tags[queue.EXECUTOR] for k in kids} == {"ray"}
    wait_until(lambda: {on_ray.get_job_status(job_id(k.info.run_id)).value for k in kids} == {"SUCCEEDED"}, 60,
               message="every trial's job to succeed")
    assert status(parent_id) == "FINISHED"


def test_a_run_asking_for_more_cpus_than_the_cluster_has_waits_in_ray_until_stopped(on_ray, worker):
    spec = build_spec("tiny", {"max_epochs": 1})
    run_id = queue.submit(spec, extra_tags=placement.request_tags({"cpus": 3.0, "gpus": 0.0}))  # the head has 2
    wait_until(lambda: job_status(on_ray, run_id) == "PENDING", 60, message="pending in Ray")
    assert status(run_id) == "RUNNING"  # claimed by the worker; Ray holds it back
    assert queue.stop(run_id) == "stopping"
    assert status(run_id) == "KILLED"  # at once: no trainer yet to wait for
    assert "waited for resources" in tracking.client().get_run(run_id).data.tags[ERROR_TAG]
    assert not tracking.client().get_metric_history(run_id, "train/loss")


def test_stop_ends_a_ray_run_killed_with_its_points(on_ray, worker):
    run_id = long_run()
    client = tracking.client()
    wait_until(lambda: len(client.get_metric_history(run_id, "train/loss")) >= 10, RUN_TIMEOUT_S, message="points")
    assert queue.stop(run_id, grace_s=60) == "stopping"
    wait_until(lambda: status(run_id) in TERMINAL, 60, message="stopped")
    assert status(run_id) == "KILLED", client.get_run(run_id).data.tags.get(ERROR_TAG)
    steps = sorted(p.step for p in client.get_metric_history(run_id, "train/loss"))
    assert len(steps) >= 10 and steps == list(range(len(steps)))
    wait_until(lambda: on_ray.get_job_status(job_id(run_id)).value not in ("PENDING", "RUNNING"), 60, message="job end")


def test_a_job_whose_process_dies_inside_ray_fails_its_run(on_ray, worker):
    run_id = long_run()
    client = tracking.client()
    wait_until(lambda: client.get_run(run_id).data.tags.get("runboard.heartbeat"), RUN_TIMEOUT_S, message="training")
    os.kill(int(client.get_run(run_id).data.tags[PID_TAG]), signal.SIGKILL)  # out of memory, say
    wait_until(lambda: status(run_id) in TERMINAL, 60, message="the run to end")
    run = client.get_run(run_id)
    assert run.info.status == "FAILED"
    assert f"Ray job {job_id(run_id)} ended FAILED" in run.data.tags[ERROR_TAG]


def test_a_new_worker_adopts_a_live_ray_job_and_a_stop_from_ray_ends_it_killed(on_ray):
    run_id = long_run()
    client = tracking.client()
    first = start_in_thread(limit=1, poll_s=0.2)
    try:
        wait_until(lambda: len(client.get_metric_history(run_id, "train/loss")) >= 10, RUN_TIMEOUT_S, message="points")
    finally:
        first.stop()  # the dashboard restarts: its job goes on in Ray
    second = start_in_thread(limit=1, poll_s=0.2)
    try:
        wait_until(lambda: second.supervisor.executor.watches(run_id), 30, message="adopted")
        assert status(run_id) == "RUNNING" and second.supervisor.executor.status(run_id) == "running"
        assert on_ray.stop_job(job_id(run_id))  # `ray job stop`: SIGTERM, which the trainer takes as a stop
        wait_until(lambda: status(run_id) in TERMINAL, 60, message="the run to end")
        assert status(run_id) == "KILLED", client.get_run(run_id).data.tags.get(ERROR_TAG)
        steps = sorted(p.step for p in client.get_metric_history(run_id, "train/loss"))
        assert steps == list(range(len(steps)))
        wait_until(lambda: not second.supervisor.executor.watches(run_id), 30, message="reaped")
    finally:
        second.stop()
