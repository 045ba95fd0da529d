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
