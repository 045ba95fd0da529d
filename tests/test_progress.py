"""One progress reader for every page, and one home for run-tag names."""

import ast
import re
from pathlib import Path

from trainers import progress
from trainers import run_tags as T

REPO = Path(__file__).resolve().parent.parent


def test_progress_counts_the_eta_from_training_start_not_from_the_queue():
    tags = {T.PROGRESS_STEP: "50", T.PROGRESS_TOTAL_STEPS: "100", T.PROGRESS_EPOCH: "1",
            T.PROGRESS_MAX_EPOCHS: "2", T.PROGRESS_STARTED: "1000", T.HEARTBEAT: "1010"}
    p = progress.read(tags, started_s=900.0, now=1011.0)  # queued at 900, training began at 1000
    assert p.fraction == 0.5 and p.eta_s == 10.0 and p.heartbeat_age_s == 1.0
    assert p.text() == "epoch 1/2 · step 50/100 · ETA 0:10"


def test_progress_falls_back_to_the_run_start_and_reads_partial_tags():
    p = progress.read({T.PROGRESS_EPOCH: "1", T.PROGRESS_MAX_EPOCHS: "4"}, started_s=None, now=5.0)
    assert p.fraction == 0.25 and p.eta_s is None and p.heartbeat_age_s is None and not p.stale
    assert progress.read({T.PROGRESS_STEP: "5", T.PROGRESS_TOTAL_STEPS: "10"}, 0.0, 10.0).eta_s == 10.0
    assert progress.read({}, None, 0.0).text() == ""


def test_a_run_is_stale_after_the_reapers_limit_on_every_page(monkeypatch):
    monkeypatch.setenv("RUNBOARD_STALE_S", "30")
    assert progress.read({T.HEARTBEAT: "100"}, None, 131.0).stale
    assert not progress.read({T.HEARTBEAT: "100"}, None, 129.0).stale


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def test_no_run_tag_literal_lives_outside_the_vocabulary():
    """Every string in the code (docstrings aside) that names a run tag: only trainers/run_tags.py."""
    tag = re.compile(r"\brunboard\.[a-z_]+|\bmlflow\.(user|parentRunId|source\.|runName)")
    found = []
    for top in ("trainers", "experiments", "dashboard", "bench"):
        for path in (REPO / top).rglob("*.py"):
            if path.name == "run_tags.py":
                continue
            tree = ast.parse(path.read_text())
            docs = _docstrings(tree)
            found += [f"{path.relative_to(REPO)}:{node.lineno}: {node.value[:60]!r}" for node in ast.walk(tree)
                      if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
                      and tag.search(node.value)]
    assert found == []


def test_stalled_counts_the_newest_sign_of_life():
    from trainers import progress as P
    from trainers import run_tags as T

    now, limit = 10_000.0, T.stale_after_s()
    old = now - limit - 1
    assert P.stalled({}, None, old, now)  # nothing since its start
    assert not P.stalled({}, now - 1, old, now)  # a fresh point (a plain-MLflow run)
    assert not P.stalled({T.HEARTBEAT: str(now - 1)}, old, old, now)
    assert not P.stalled({T.CLAIMED: str(now - 1)}, None, old, now)  # just claimed after a long queue
    assert P.stalled({T.HEARTBEAT: str(old)}, old, now, now)  # a recent start does not hide a dead trainer
