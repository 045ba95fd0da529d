"""Helpers shared by the launch tests: the environment trainers need to find the "tiny" family,
waiting on the store, and cleaning up every trainer a test started."""

from __future__ import annotations

import os
import signal
import textwrap
import time
from pathlib import Path

import pytest

from experiments.executors.local import pid_alive
from trainers import tracking
from trainers.run_record import ERROR_TAG, PID_TAG

TESTS = Path(__file__).parent


@pytest.fixture(autouse=True)
def runtime_in_tmp(tmp_path, monkeypatch):
    """Logs and locks in the test's folder (a PostgreSQL store's default is under mlruns/)."""
    monkeypatch.setenv("RUNBOARD_RUNTIME_DIR", str(tmp_path / "runtime"))


def set_launch_env(monkeypatch) -> None:
    """Trainers started by the executor inherit these through its environment allow-list."""
    monkeypatch.setenv("PYTHONPATH", f"{tracking.REPO}{os.pathsep}{TESTS}")
    monkeypatch.setenv("RUNBOARD_FAMILIES", "tiny_family")


def all_runs(uri=None) -> list:
    c = tracking.client(uri)
    return [r for e in c.search_experiments() for r in c.search_runs([e.experiment_id], max_results=10_000)]


def wait_until(predicate, timeout: float, every: float = 0.2, message: str = "condition", explain=None):
    """``predicate()`` once truthy; on timeout an AssertionError that adds ``explain()`` (e.g.
    :func:`describe_runs`) so the failure says what the runs were doing."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {message}" + (f"\n{explain()}" if explain else "")
            )
        time.sleep(every)


def describe_runs(run_ids, uri=None, tail: int = 15) -> str:
    """Per run: status, why it ended (error tag), pid, heartbeat age, progress, then the tail
    of its executor log — what a launch test prints when a run did not end as expected."""
    from experiments.executors.local import LocalExecutor

    client, executor, now, out = tracking.client(uri), LocalExecutor(uri), time.time(), []
    for rid in run_ids:
        run = client.get_run(rid)
        tags = run.data.tags
        beat = tags.get("runboard.heartbeat")
        age = f"{now - float(beat):.0f}s" if beat else "none"
        step = f"{tags.get('runboard.progress.step')}/{tags.get('runboard.progress.total_steps')}"
        out.append(f"- {rid} ({run.info.run_name}) {run.info.status}: error={tags.get(ERROR_TAG)!r} "
                   f"pid={tags.get(PID_TAG)} heartbeat_age={age} step={step} metrics={run.data.metrics}")
        out.append(textwrap.indent(executor.logs(rid, tail) or "(no log)", "    | "))
    return "\n".join(out)


def children_of_this_process() -> set[int]:
    me = str(os.getpid())
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[1] == me:
                out.add(int(stat.parent.name))
        except (OSError, IndexError):
            continue
    return out


def kill_trainers(uri=None) -> None:
    """SIGKILL every trainer process group the store knows about (test teardown)."""
    for run in all_runs(uri):
        pid = run.data.tags.get(PID_TAG, "")
        if pid.isdigit() and pid_alive(int(pid), run.info.run_id):
            try:
                os.killpg(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


def create_pruned_sweep() -> str:
    """The issue-17 sweep both pruning tests run: 12 Optuna trials of SGD on the tiny regression,
    where a small rate is obviously bad after one epoch, under the median rule. Returns its parent."""
    from experiments import sweeps

    space = {"lr": {"low": 1e-5, "high": 0.1, "log": True}}
    return sweeps.create("optuna", "tiny", {"max_epochs": 4, "n_samples": 64}, space, budget=12, parallelism=2,
                         seed=5, prune={"rule": "median", "warmup_trials": 2, "min_epochs": 1})


def check_pruned_sweep(parent_id: str, trials: int, explain=lambda: "") -> tuple[int, int]:
    """Acceptance of a finished sweep with early stopping (issue 17): every trial FINISHED or
    pruned (KILLED, ``pruned at epoch N``, its N validation points kept), some pruned, the best
    FINISHED trial picked, and no pruned trial better than the best at the epoch it stopped.
    Returns (steps run, steps the same trials run to the end would take: without pruning every
    trial runs all its epochs, so that is what the sweep would run whichever trials it picked)."""
    from experiments import queue
    from trainers import pruning

    client = tracking.client()
    kids = queue.children(parent_id, tracking.experiment_id())
    pruned = {k.info.run_id: e for k in kids if k.info.status == "KILLED"
              and (e := pruning.pruned_epoch(k.data.tags.get(ERROR_TAG))) is not None}
    finished = [k for k in kids if k.info.status == "FINISHED"]
    assert len(kids) == trials and len(pruned) + len(finished) == trials, explain()
    assert pruned, explain()
    best = min(finished, key=lambda k: k.data.metrics["val/loss"])
    assert client.get_run(parent_id).data.tags["runboard.sweep.best_run_id"] == best.info.run_id
    best_curve = [
        m.value for m in sorted(client.get_metric_history(best.info.run_id, "val/loss"), key=lambda m: m.step)
    ]
    for run_id, epoch in pruned.items():
        curve = client.get_metric_history(run_id, "val/loss")
        assert len(curve) == epoch  # its points are kept, up to the epoch it was judged on
        assert max(curve, key=lambda m: m.step).value > best_curve[epoch - 1]
    run = sum(int(k.data.tags["runboard.progress.step"]) for k in kids)
    full = sum(int(k.data.tags["runboard.progress.total_steps"]) for k in kids)
    print(f"steps run with pruning: {run}; the same {trials} trials without pruning: {full}; "
          f"{len(pruned)} trials pruned; best val/loss {best.data.metrics['val/loss']:.3g}")
    assert run < full
    return run, full
