"""Train the ``gpt`` and ``gan`` families from the CLI, small enough to take seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from trainers import tracking

REPO = Path(__file__).resolve().parents[1]
SMALL = {
    "gpt": ["max_epochs=1", "corpus_chars=6000", "block_size=16", "n_embd=16", "n_head=2", "n_layer=1",
            "batch_size=16", "warmup_steps=3"],
    "gan": ["max_epochs=2", "hidden=16", "layers=1", "batch_size=256", "grid_samples=16", "grid_scale=2"],
}


def train_cli(uri: str, artifacts: Path, family: str, *extra: str) -> tuple[int, str]:
    """(exit code, output) of ``python -m trainers.train <family>`` with the small settings."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "RUNBOARD_ARTIFACT_ROOT": artifacts.as_uri()}
    args = [a for s in [*SMALL[family], *extra] for a in ("--set", s)]
    proc = subprocess.run([sys.executable, "-m", "trainers.train", family, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def trained_runs(uri: str, artifacts: Path) -> dict[str, str]:
    """{family: run id} of one FINISHED small run of each family in the store at ``uri``."""
    tracking.prepare_store(uri)
    ids = {}
    for family in SMALL:
        code, out = train_cli(uri, artifacts, family)
        assert code == 0, out[-3000:]
        ids[family] = out.strip().splitlines()[-1]
    return ids
