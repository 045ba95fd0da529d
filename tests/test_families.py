"""The ``gpt`` and ``gan`` families (issue 14): CLI training on a real store, their config rules
declared once through typed ``__init__`` arguments, the Launch form, and the Run / Compare pages."""

from __future__ import annotations

import math

import pytest
import streamlit as st
from app_util import figures, open_page
from families_util import train_cli, trained_runs
from launch_util import all_runs, runtime_in_tmp  # noqa: F401 - autouse fixture
from PIL import Image

from experiments import forms
from trainers import metrics, tracking
from trainers.config import ConfigError
from trainers.families.gpt import GPT, lr_factor
from trainers.registry import families, get
from trainers.spec import build_spec


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(uri, {family: run id}): one small CLI-trained run of each family in a SQLite store."""
    root = tmp_path_factory.mktemp("families")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    return uri, trained_runs(uri, root / "artifacts")


@pytest.fixture
def store_of(trained, monkeypatch):
    uri, ids = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    st.cache_data.clear()
    yield ids
    st.cache_data.clear()


def in_order(node) -> list[str]:
    """Element types of an AppTest block, in page order."""
    children = getattr(node, "children", None)
    if not isinstance(children, dict):
        return [node.type]
    return [t for key in sorted(children) for t in in_order(children[key])]


def test_gpt_trains_from_the_cli_with_its_metrics(trained):
    uri, ids = trained
    run = tracking.client(uri).get_run(ids["gpt"])
    assert run.info.status == "FINISHED"
    assert {metrics.TRAIN_LOSS, metrics.VAL_LOSS, metrics.VAL_PERPLEXITY} <= set(run.data.metrics)
    assert run.data.metrics[metrics.VAL_PERPLEXITY] < 256  # better than uniform over bytes
    assert run.data.params["block_size"] == "16" and run.data.params["n_layer"] == "1"
    steps = [m.step for m in tracking.client(uri).get_metric_history(ids["gpt"], metrics.TRAIN_LOSS)]
    assert steps == list(range(len(steps))) and len(steps) > 3


def test_gan_trains_from_the_cli_with_losses_and_a_sample_grid_per_epoch(trained, tmp_path):
    uri, ids = trained
    client = tracking.client(uri)
    run = client.get_run(ids["gan"])
    assert run.info.status == "FINISHED"
    assert {metrics.TRAIN_G_LOSS, metrics.TRAIN_D_LOSS, metrics.VAL_G_LOSS, metrics.VAL_D_LOSS,
            metrics.VAL_LOSS} <= set(run.data.metrics)
    assert [a.path for a in client.list_artifacts(ids["gan"], "samples")] == ["samples/epoch_000.png",
                                                                              "samples/epoch_001.png"]
    steps = [m.step for m in client.get_metric_history(ids["gan"], metrics.TRAIN_G_LOSS)]
    assert steps == list(range(len(steps)))  # one step per batch, though two networks step
    png = client.download_artifacts(ids["gan"], "samples/epoch_001.png", str(tmp_path))
    image = Image.open(png)
    assert image.format == "PNG" and image.size == ((4 * 9 + 1) * 2, (4 * 9 + 1) * 2)  # 16 digits, 4×4


def test_fields_are_declared_once_with_their_rules():
    gpt = get("gpt").config
    assert gpt.model_fields["n_layer"].description == "Transformer blocks."
    assert gpt.model_fields["block_size"].default == 64 and gpt.model_fields["lr"].default == 3e-3
    with pytest.raises(ConfigError, match="n_head"):
        build_spec("gpt", {"n_head": "0"})
    with pytest.raises(ConfigError, match="grid_scale"):
        build_spec("gan", {"grid_scale": "99"})
    with pytest.raises(ConfigError, match="lr"):  # shared rules stay on a family's own default
        build_spec("gan", {"lr": "-1"})
    model, _ = get("gpt").build(build_spec("gpt", {"block_size": "32"}).config)
    assert isinstance(model, GPT) and model.tokens_per_sample == 32


def test_bad_settings_fail_on_the_cli_with_one_line_and_no_run(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code, out = train_cli(uri, tmp_path / "artifacts", "gpt", "n_layer=0")
    assert code == 2 and "config error: n_layer:" in out
    tracking.prepare_store(uri)
    assert tracking.client(uri).search_runs([tracking.experiment_id("runboard", uri)]) == []


def test_learning_rate_warms_up_then_decays_on_a_cosine():
    factors = [lr_factor(s, 10, 110, 0.1) for s in range(111)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))
    assert factors[60] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert factors[110] == pytest.approx(0.1)


def test_the_launch_form_lists_and_submits_both(sqlite_store, monkeypatch):
    monkeypatch.setenv("RUNBOARD_WORKER", "off")
    st.cache_resource.clear()
    assert {"gpt", "gan"} <= set(families())
    for family, field, value in (("gpt", "n_layer", "3"), ("gan", "latent_dim", "8")):
        assert field in [f.name for f in forms.form_fields(family)]
        at = open_page("launch", family=family)
        at.text_input(key=f"launch_family-{family}_{field}").input(value)
        at.button(key="launch_go").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
    runs = {r.data.params["family"]: r for r in all_runs()}
    assert runs["gpt"].info.status == runs["gan"].info.status == "SCHEDULED"
    assert runs["gpt"].data.params["n_layer"] == "3" and runs["gan"].data.params["latent_dim"] == "8"
    st.cache_resource.clear()


def test_run_page_shows_the_gan_samples_near_the_top(store_of):
    at = open_page("run", run=store_of["gan"])
    (image,) = at.get("image")
    assert image.captions == ["samples/epoch_001.png"] and image.value[0]
    order = in_order(at.main)
    assert order.index("image") < order.index("plotly_chart")  # above the metric charts
    assert at.select_slider(key="run_image_samples").value == "samples/epoch_001.png"
    charted = {f["layout"]["title"]["text"] for f in figures(at) if f["layout"].get("title")}
    assert {metrics.TRAIN_G_LOSS, metrics.TRAIN_D_LOSS} <= charted
    at = open_page("run", run=store_of["gpt"])  # no images: no image section
    assert not at.get("image") and not [s for s in at.subheader if s.value == "Images"]


def test_compare_page_charts_a_gpt_metric(store_of):
    at = open_page("compare", runs=store_of["gpt"], metrics=metrics.VAL_PERPLEXITY, x="step")
    lines = [t for f in figures(at) for t in f["data"] if (t.get("meta") or {}).get("role") == "line"]
    assert [t["meta"]["run_id"] for t in lines] == [store_of["gpt"]]
