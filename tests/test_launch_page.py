"""The Launch and Activity pages under AppTest on a real store, with the in-process worker off so
a launched run stays SCHEDULED where the test can look at it (the worker tests start processes)."""

import pytest
import streamlit as st
import tiny_family  # noqa: F401 - a user-registered family gets a form too
from app_util import app_test, page_links
from launch_util import all_runs, children_of_this_process, runtime_in_tmp  # noqa: F401 - autouse fixture

from experiments import forms, queue
from trainers import tracking
from trainers.registry import families
from trainers.spec import build_spec

LAUNCH, ACTIVITY = "launch", "activity"


@pytest.fixture(autouse=True)
def _no_worker(monkeypatch):
    monkeypatch.setenv("RUNBOARD_WORKER", "off")
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def page(name, **params):
    """The page through the app's router, as a share link opens it (its page links need the router)."""
    return app_test(name, **params).run()


def widget(at, key):
    for kind in (at.text_input, at.selectbox, at.toggle):
        try:
            return kind(key=key)
        except KeyError:
            continue
    raise KeyError(key)


@pytest.mark.parametrize("family", sorted(families()))
def test_the_form_of_every_family_renders_with_its_defaults(family, sqlite_store):
    at = page(LAUNCH, family=family)
    assert not at.exception
    for f in forms.form_fields(family):
        w = widget(at, f"launch_family-{family}_{f.name}")
        assert w.value == (f.default if f.kind in ("choice", "bool") else str(f.default)), f.name
        assert f.help in (w.help or "")


def test_valid_values_queue_one_scheduled_run_with_exactly_those_params(store):
    at = page(LAUNCH, family="mlp")
    at.text_input(key="launch_family-mlp_lr").input("0.01")
    at.text_input(key="launch_family-mlp_max_epochs").input("2")
    at.selectbox(key="launch_family-mlp_optimizer").set_value("sgd")
    at.text_input(key="launch_family-mlp_name").input("from the form")
    at.button(key="launch_go").click().run()
    at.button(key="launch_go").click().run()  # a double click (or a rerun) starts one run
    assert not at.exception and not at.error
    [run] = all_runs()
    expected = build_spec("mlp", {"lr": 0.01, "max_epochs": 2, "optimizer": "sgd"})
    assert run.info.status == "SCHEDULED" and run.info.run_name == "from the form"
    assert run.data.params == {"family": "mlp", **{k: str(v) for k, v in expected.config.model_dump().items()}}
    assert run.info.run_id in at.success[0].value


def test_invalid_values_show_errors_next_to_fields_and_start_nothing(sqlite_store):
    before = children_of_this_process()
    at = page(LAUNCH, family="mlp")
    for field, value in {"lr": "-1", "max_epochs": "abc", "hidden": "99999", "name": "x; rm -rf ~"}.items():
        at.text_input(key=f"launch_family-mlp_{field}").input(value)
    at.button(key="launch_go").click().run()
    messages = [e.value for e in at.error]
    for field in ("lr", "max_epochs", "hidden", "name"):
        assert any(m.startswith(f"{field}:") for m in messages), (field, messages)
    at.text_input(key="launch_family-mlp_name").input("--help")
    at.button(key="launch_go").click().run()
    assert any(m.startswith("name:") for m in (e.value for e in at.error))
    assert all_runs() == [] and children_of_this_process() <= before


def test_clone_prefills_the_form_and_records_where_it_came_from(store):
    source = queue.submit(build_spec("mlp", {"lr": 0.02, "hidden": 48}, run_name="original"))
    at = page(LAUNCH, clone=source)
    key = f"launch_clone-{source}_"
    assert at.text_input(key=key + "lr").value == "0.02" and at.text_input(key=key + "hidden").value == "48"
    at.text_input(key=key + "lr").input("0.005")
    at.button(key="launch_go").click().run()
    [clone] = [r for r in all_runs() if r.info.run_id != source]
    assert clone.data.params["lr"] == "0.005" and clone.data.params["hidden"] == "48"
    assert clone.data.tags[queue.CLONED_FROM] == source


def test_a_grid_sweep_from_the_page_queues_a_parent_and_its_trials(store):
    at = page(LAUNCH, family="tiny")
    at.multiselect(key="launch_sweep_fields").set_value(["lr"]).run()
    at.text_input(key="launch_sweep_lr").input("0.01, 0.02, 0.04")
    at.button(key="launch_sweep_go").click().run()
    assert not at.exception and not at.error
    runs = all_runs()
    [parent] = [r for r in runs if queue.SWEEP_KIND in r.data.tags]
    kids = [r for r in runs if r.data.tags.get(queue.PARENT) == parent.info.run_id]
    assert sorted(k.data.params["lr"] for k in kids) == ["0.01", "0.02", "0.04"]
    assert {k.info.status for k in kids} == {"SCHEDULED"}



def test_an_optuna_sweep_with_early_stopping_from_the_page_gives_every_trial_the_rule(sqlite_store):
    import json

    at = page(LAUNCH, family="tiny")
    at.selectbox(key="launch_sweep_kind").set_value("optuna").run()
    at.selectbox(key="launch_sweep_prune").set_value("asha").run()
    at.number_input(key="launch_sweep_prune_eta").set_value(4).run()
    at.multiselect(key="launch_sweep_fields").set_value(["lr"]).run()
    at.text_input(key="launch_sweep_lr").input("1e-4..0.1")
    at.button(key="launch_sweep_go").click().run()
    assert not at.exception and not at.error
    runs = all_runs()
    [parent] = [r for r in runs if queue.SWEEP_KIND in r.data.tags]
    rule = {"rule": "asha", "warmup_trials": 3, "min_epochs": 1, "eta": 4}
    assert json.loads(parent.data.tags["runboard.sweep"])["prune"] == rule
    kids = [r for r in runs if r.data.tags.get(queue.PARENT) == parent.info.run_id]
    assert kids and all(json.loads(k.data.tags["runboard.sweep.prune"]) == {"rule": rule, "metric": "val/loss",
                                                                            "direction": "minimize"} for k in kids)

def test_activity_lists_the_queue_and_cancel_takes_a_run_off_it(store):
    run_id = queue.submit(build_spec("mlp", {}, run_name="waiting"))
    at = page(ACTIVITY)
    assert not at.exception
    assert any("waiting" in m.value for m in at.markdown)
    at.button(key=f"activity_cancel_{run_id}").click().run()
    assert tracking.client().get_run(run_id).info.status == "KILLED"
    assert any("waiting" in m.value and "killed" in m.value for m in at.markdown)  # now under "Recently ended"


def test_activity_with_nothing_queued_says_where_to_launch(sqlite_store):
    at = page(ACTIVITY)
    assert "Nothing is queued or running" in at.info[0].value
    assert ("Start a run on the Launch page", "launch", "") in page_links(at)


def test_activity_cancels_a_whole_sweep(store):
    from experiments import sweeps

    parent = sweeps.create("grid", "tiny", {}, {"lr": [0.01, 0.02]}, budget=2, parallelism=1)
    at = page(ACTIVITY)
    at.button(key=f"activity_cancel_{parent}").click().run()
    assert not at.exception
    statuses = {r.info.run_id: r.info.status for r in all_runs()}
    assert len(statuses) == 3 and set(statuses.values()) == {"KILLED"}


def _array(values) -> list[float]:
    """A trace's x or y: Plotly ships numpy arrays base64-packed as ``{dtype, bdata}``."""
    import base64

    import numpy as np

    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"])).astype(float).tolist()
    return [float(v) for v in values]


def test_activity_draws_live_curves_of_a_running_run(store):
    """A RUNNING run written with plain MLflow calls: its loss and val metric appear on Activity."""
    import json

    from mlflow.entities import Metric

    client = tracking.client()
    run_id = client.create_run(tracking.experiment_id(), run_name="live-curves").info.run_id  # RUNNING
    loss = [1.0 / (s + 1) for s in range(12)]
    client.log_batch(run_id, metrics=[Metric("train/loss", v, 1000 + s, s) for s, v in enumerate(loss)]
                     + [Metric("val/loss", 0.4, 2000, 5), Metric("val/loss", 0.2, 3000, 11)])
    at = page(ACTIVITY)
    assert not at.exception
    [fig] = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    traces = {t["meta"]["metric"]: t for t in fig["data"]}
    assert {t["meta"]["run_id"] for t in fig["data"]} == {run_id} and set(traces) == {"train/loss", "val/loss"}
    assert _array(traces["train/loss"]["x"]) == list(range(12)) and _array(traces["train/loss"]["y"]) == loss
    assert _array(traces["val/loss"]["x"]) == [5, 11] and _array(traces["val/loss"]["y"]) == [0.4, 0.2]
    assert traces["val/loss"]["yaxis"] == "y2" and fig["layout"]["xaxis"]["title"]["text"] == "Step"
