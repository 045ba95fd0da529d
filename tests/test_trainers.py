"""Every built-in family trains into a real store and logs what the dashboard needs."""

import json

import mlflow.artifacts
import pytest

from trainers import metrics as m
from trainers import registry, tracking
from trainers.spec import build_spec
from trainers.train import train

CLASSIFIERS = ["mlp", "cnn", "lstm"]
PER_EPOCH = {
    "mlp": m.CLASSIFICATION, "cnn": m.CLASSIFICATION, "lstm": m.CLASSIFICATION,
    "linreg": m.REGRESSION, "vae": m.AUTOENCODER,
}


def artifact_paths(client, run_id, path=""):
    out = []
    for item in client.list_artifacts(run_id, path):
        out += artifact_paths(client, run_id, item.path) if item.is_dir else [item.path]
    return out


@pytest.mark.parametrize("family", sorted(PER_EPOCH))
def test_family_trains_two_epochs_and_logs_everything(family, store):
    spec = build_spec(family, {"max_epochs": 2})
    result = train(spec)
    client = tracking.client()
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    for key, value in spec.config.model_dump().items():
        assert run.data.params[key] == str(value)
    assert int(run.data.params["num_params"]) > 0
    total = int(run.data.tags["runboard.progress.total_steps"])
    assert len(client.get_metric_history(result.run_id, m.TRAIN_LOSS)) == total
    for key in PER_EPOCH[family]:
        assert len(client.get_metric_history(result.run_id, key)) == 2, key
    files = artifact_paths(client, result.run_id)
    assert "model/best.ckpt" in files
    if family in CLASSIFIERS:
        assert {"confusion/epoch_000.json", "confusion/epoch_001.json"} <= set(files)
    assert run.data.tags["runboard.family"] == family
    assert run.data.tags["runboard.progress.epoch"] == "2"
    assert {"runboard.version", "runboard.command", "runboard.host"} <= set(run.data.tags)


def test_confusion_matrix_artifact_counts_every_validation_example(store):
    result = train(build_spec("mlp", {"max_epochs": 1}))
    path = mlflow.artifacts.download_artifacts(
        run_id=result.run_id, artifact_path="confusion/epoch_000.json", tracking_uri=tracking.tracking_uri()
    )
    conf = json.loads(open(path).read())
    assert conf["labels"] == [str(i) for i in range(10)]
    assert sum(map(sum, conf["matrix"])) == 360  # 20 % of 1,797 digits, stratified


def test_imbalanced_classifier_trains(sqlite_store):
    spec = build_spec("mlp", {"max_epochs": 1, "class_balance": 0.1})
    assert train(spec).status == "FINISHED"


def test_registry_lists_the_five_seed_families():
    assert {"mlp", "cnn", "lstm", "linreg", "vae"} <= set(registry.families())


def test_every_run_logs_step_health_and_system_metrics(sqlite_store):
    """lr, gradient norm and throughput per logged step (tokens/s for a language model), and
    MLflow-named system metrics; the Run page draws the latter in its own System section."""
    from app_util import open_page

    spec = build_spec("mlp", {"max_epochs": 1, "log_every_n_steps": 2})
    run_id = train(spec).run_id
    client = tracking.client()
    losses = [p.step for p in client.get_metric_history(run_id, m.TRAIN_LOSS)]
    for key in (m.TRAIN_LR, m.TRAIN_GRAD_NORM, m.SAMPLES_PER_S):
        points = client.get_metric_history(run_id, key)
        steps = sorted(p.step for p in points)
        assert steps == sorted(set(steps)) and set(steps) <= set(losses), key  # at train/loss's steps
        assert len(steps) >= len(losses) - 1 and all(p.value > 0 for p in points), key
    assert client.get_metric_history(run_id, m.TRAIN_LR)[0].value == spec.config.lr
    system = [k for k in client.get_run(run_id).data.metrics if k.startswith(m.SYSTEM_PREFIX)]
    assert "system/cpu_utilization_percentage" in system and "system/system_memory_usage_megabytes" in system
    at = open_page("run", run=run_id)
    assert [s.value for s in at.subheader if s.value == "System"]
    gpt = train(build_spec("gpt", {"max_epochs": 1, "corpus_chars": 4000, "block_size": 16, "n_embd": 16,
                                   "n_head": 2, "n_layer": 1, "batch_size": 32}))
    tokens = client.get_metric_history(gpt.run_id, m.TOKENS_PER_S)
    samples = {p.step: p.value for p in client.get_metric_history(gpt.run_id, m.SAMPLES_PER_S)}
    assert tokens and all(abs(p.value - 16 * samples[p.step]) < 1e-6 * p.value for p in tokens)


def test_fused_gradient_norm_equals_the_norm_of_all_gradients_together():
    import torch

    from trainers.step_health import grad_norm

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(7, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    assert grad_norm(module) is None  # no backward yet: no point rather than a zero
    module(torch.randn(4, 7)).pow(2).sum().backward()
    expected = torch.cat([p.grad.flatten() for p in module.parameters()]).norm(2)
    assert torch.allclose(grad_norm(module), expected)


def test_a_run_writes_a_line_per_epoch_to_its_log(sqlite_store, capsys):
    """Stdout is the run's log file under the queue (Activity's log panel): one line per epoch."""
    import tiny_family  # noqa: F401 - registers "tiny": a few steps, seconds on a CPU

    result = train(build_spec("tiny", {"max_epochs": 2}))
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch ")]
    assert [ln.split(" · ")[:2] for ln in lines] == [["epoch 1/2", "step 32"], ["epoch 2/2", "step 64"]]
    assert all("train/loss " in ln and "val/loss " in ln for ln in lines)
    assert result.status == "FINISHED"
