"""``pip install -e <checkout>`` in a fresh virtualenv: the ``runboard`` command and a plain
Lightning script using ``from trainers import RunboardLogger`` from outside the checkout."""

import os
import site
import subprocess
import venv
from pathlib import Path

import pytest
from mlflow import MlflowClient

from trainers import run_tags

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_fresh_venv_install_and_byo_script(sqlite_uri, tmp_path):
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    py = env_dir / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # see the shared venv's packages (torch, lightning, mlflow) without copying them
    Path(purelib, "shared.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", run_tags.RUN_ID_ENV)}
    env["MLFLOW_TRACKING_URI"] = sqlite_uri
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(REPO)],
                   env=env, cwd=tmp_path, check=True, capture_output=True, timeout=300)
    help_out = subprocess.run([str(env_dir / "bin" / "runboard"), "--help"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
    assert help_out.returncode == 0 and "runboard train" in help_out.stdout
    script = tmp_path / "script.py"
    script.write_text((REPO / "tests" / "byo" / "byo_script.py").read_text())
    out = subprocess.run([str(py), str(script), "2"], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    client = MlflowClient(sqlite_uri)
    runs = client.search_runs([client.get_experiment_by_name("byo").experiment_id])
    assert [r.info.status for r in runs] == ["FINISHED"]
    assert {"my/train_loss", "my/val_loss"} <= set(runs[0].data.metrics)
    assert "system/cpu_utilization_percentage" in runs[0].data.metrics
    assert runs[0].data.params["lr"] == "0.05"
