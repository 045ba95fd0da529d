"""A store of three families written with plain MLflow calls, as the trainers tag and name them:
``from three_families import write_three_families``. Seconds to write, unlike real training."""

from __future__ import annotations

import time

from mlflow.entities import Metric, Param, RunTag

from trainers import tracking
from trainers.metrics import EPOCH, TRAIN_LOSS, VAL_ACC, VAL_KL, VAL_LOSS, VAL_MSE
from trainers.run_tags import FAMILY

STEPS = 5
# family → [(params, {metric: final value})], one entry per run
RUNS = {
    "mlp": [({"lr": "0.01", "hidden": "64", "seed": "1"}, {VAL_ACC: 0.9, VAL_LOSS: 0.3}),
            ({"lr": "0.1", "hidden": "64", "seed": "1"}, {VAL_ACC: 0.8, VAL_LOSS: 0.5}),
            ({"lr": "0.001", "hidden": "32", "seed": "1"}, {VAL_ACC: 0.7, VAL_LOSS: 0.6})],
    "linreg": [({"lr": "0.05", "seed": "1"}, {VAL_MSE: 0.2, VAL_LOSS: 0.2}),
               ({"lr": "0.5", "seed": "1"}, {VAL_MSE: 0.4, VAL_LOSS: 0.4})],
    "vae": [({"lr": "0.001", "latent": "4", "seed": "1"}, {VAL_LOSS: 1.5, VAL_KL: 0.1}),
            ({"lr": "0.001", "latent": "8", "seed": "1"}, {VAL_LOSS: 1.2, VAL_KL: 0.2})],
}


def write_three_families(uri: str, experiment: str = "three") -> dict[str, list[str]]:
    """{family: run ids} of finished runs, each with a curve per metric plus train/loss and epoch."""
    client, t0 = tracking.client(uri), int(time.time() * 1000)
    eid = tracking.experiment_id(experiment, uri)
    out: dict[str, list[str]] = {}
    for family, runs in RUNS.items():
        for i, (params, finals) in enumerate(runs):
            rid = client.create_run(eid, run_name=f"{family}-{i}", tags={FAMILY: family}).info.run_id
            curves = {**finals, TRAIN_LOSS: finals.get(VAL_LOSS, 1.0), EPOCH: float(STEPS - 1)}
            metrics = [Metric(k, v * (1 + 0.1 * (STEPS - 1 - s)) if k != EPOCH else float(s), t0 + s, s)
                       for k, v in curves.items() for s in range(STEPS)]
            client.log_batch(rid, metrics=metrics, params=[Param(k, v) for k, v in params.items()],
                             tags=[RunTag(FAMILY, family)])
            client.set_terminated(rid)
            out.setdefault(family, []).append(rid)
    return out
