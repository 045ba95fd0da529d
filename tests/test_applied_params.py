"""A run records only settings that were applied (issue 21, item 3).

For every family — the built-ins and a user's own (``tests/tiny_family.py``) — each recorded param
is either an argument the family's build passed to its module or data module (with the recorded
value), or one of ``TrainConfig``'s shared settings, which the trainer applies to every run.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path

import pytest
import tiny_family  # noqa: F401 - registers the user family "tiny"
import torch
from launch_util import all_runs, runtime_in_tmp  # noqa: F401 - autouse fixture
from streamlit.testing.v1 import AppTest

from experiments import forms
from trainers import registry, train
from trainers.config import ConfigError, GradientConfig, TrainConfig, parse_overrides
from trainers.run_record import params_of
from trainers.spec import build_spec, spec_from_json, spec_from_target

LAUNCH = str(Path(__file__).resolve().parents[1] / "dashboard" / "app_pages" / "launch.py")
NOT_TAKEN_BY_TINY = {"optimizer", "weight_decay", "val_fraction"}
GRADIENT_SETTINGS = {"accumulate_grad_batches", "gradient_clip_val"}  # automatic optimisation only
# What the trainer applies to a run, whatever the family (proved by the two tests after the first)
TRAINER_SETTINGS = {"seed", "max_epochs", "max_steps", "log_every_n_steps", "accelerator", "devices", "precision",
                    "strategy", "accumulate_grad_batches", "gradient_clip_val", "checkpoint_every_n_steps",
                    "checkpoint_every_s"}


def received_args(family: str, config, monkeypatch) -> dict:
    """The arguments ``build`` passes by position or name to the module's and the data module's
    ``__init__``, by parameter name (a default the build left alone is not among them)."""
    build = registry.get(family).build
    got: dict = {}
    for cls in map(type, build(config)):
        original = cls.__init__
        sig = inspect.signature(original)

        @functools.wraps(original)  # Lightning's save_hyperparameters reads the signature
        def spy(self, *args, _original=original, _sig=sig, **kwargs):
            got.update({k: v for k, v in _sig.bind(self, *args, **kwargs).arguments.items() if k != "self"})
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", spy)
    build(config)
    return got


@pytest.mark.parametrize("family", sorted(registry.families()))
def test_every_param_a_family_records_is_passed_to_its_module_or_data_module_or_is_a_trainer_setting(
    family, monkeypatch
):
    spec = build_spec(family, {})
    recorded = set(params_of(spec)) - {"family"}
    received = received_args(family, spec.config, monkeypatch)
    assert recorded - TRAINER_SETTINGS - set(received) == set()
    model, _ = registry.get(family).build(spec.config)
    if not model.automatic_optimization:  # Lightning clips and accumulates only what it steps itself
        assert not GRADIENT_SETTINGS & recorded
    assert {k: received[k] for k in recorded & set(received)} == {
        k: getattr(spec.config, k) for k in recorded & set(received)
    }


@pytest.mark.parametrize("family", ["tiny", "gan", "gpt"])
def test_a_registered_familys_classes_receive_exactly_the_recorded_fields_they_name(family, monkeypatch):
    spec = build_spec(family, {})
    recorded = set(params_of(spec)) - {"family"}
    received = received_args(family, spec.config, monkeypatch)
    assert set(received) <= recorded  # nothing reaches the classes that the run does not record
    assert recorded - set(received) <= TRAINER_SETTINGS  # and what they do not take, the trainer applies


def test_every_shared_setting_reaches_the_lightning_trainer(tmp_path):
    values = {"max_epochs": 3, "max_steps": 7, "log_every_n_steps": 2, "accelerator": "cpu", "devices": "1",
              "precision": "bf16-mixed", "strategy": "ddp", "accumulate_grad_batches": 2, "gradient_clip_val": 0.5,
              "checkpoint_every_n_steps": 4, "checkpoint_every_s": 9.0}
    spec = build_spec("tiny", values)
    trainer, _ = train._trainer(spec, False, [], tmp_path)
    [interval] = [c for c in trainer.callbacks if type(c).__name__ == "IntervalCheckpoint"]
    applied = {
        "max_epochs": trainer.max_epochs,
        "max_steps": trainer.max_steps,
        "log_every_n_steps": trainer.log_every_n_steps,
        "accelerator": type(trainer.accelerator).__name__.removesuffix("Accelerator").lower(),
        "devices": str(trainer.num_devices),
        "precision": trainer.precision,
        "strategy": type(trainer.strategy).__name__.removesuffix("Strategy").lower(),
        "accumulate_grad_batches": trainer.accumulate_grad_batches,
        "gradient_clip_val": trainer.gradient_clip_val,
        "checkpoint_every_n_steps": interval.every_steps,
        "checkpoint_every_s": interval.every_s,
    }
    assert applied == values
    assert set(applied) | {"seed"} == TRAINER_SETTINGS == set(GradientConfig.model_fields)  # the seed: the next test


def test_the_seed_decides_the_initial_weights_of_a_user_family():
    def weights(seed):
        model, _ = train.build_seeded(build_spec("tiny", {"seed": seed}))
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    assert torch.equal(weights(7), weights(7)) and not torch.equal(weights(7), weights(8))


def test_a_family_that_takes_no_optimizer_is_offered_none_and_refuses_one():
    assert NOT_TAKEN_BY_TINY.isdisjoint(f.name for f in forms.form_fields("tiny"))
    assert {"optimizer", "weight_decay"}.isdisjoint(f.name for f in forms.form_fields("gan"))
    with pytest.raises(ConfigError, match="^optimizer: unknown field for family 'tiny'"):
        spec_from_target("tiny", parse_overrides(["optimizer=sgd"]))


def test_a_module_that_steps_its_own_optimizers_is_offered_no_gradient_clipping_or_accumulation():
    assert GRADIENT_SETTINGS.isdisjoint(f.name for f in forms.form_fields("gan"))
    assert GRADIENT_SETTINGS <= {f.name for f in forms.form_fields("tiny")}
    assert set(TrainConfig.model_fields) == TRAINER_SETTINGS - GRADIENT_SETTINGS
    with pytest.raises(ConfigError, match="^gradient_clip_val: unknown field for family 'gan'"):
        build_spec("gan", {"gradient_clip_val": "1"})


def test_a_spec_stored_before_configs_held_only_applied_fields_still_loads():
    old = '{"family": "tiny", "config": {"lr": 0.01, "optimizer": "sgd", "val_fraction": 0.2}}'
    spec = spec_from_json(old)
    assert spec.config.lr == 0.01 and not NOT_TAKEN_BY_TINY & set(spec.config.model_fields)


def test_a_run_launched_from_a_user_familys_form_records_only_what_it_applies(sqlite_store):
    at = AppTest.from_file(LAUNCH, default_timeout=60)
    at.query_params["family"] = "tiny"
    at.run()
    assert not at.exception
    labels = {w.label for kind in (at.text_input, at.selectbox, at.toggle) for w in kind}
    assert not NOT_TAKEN_BY_TINY & labels and {"lr", "batch_size", "n_samples", "max_epochs"} <= labels
    at.text_input(key="launch_family-tiny_lr").input("0.02")
    at.button(key="launch_go").click().run()
    [run] = all_runs()
    assert set(run.data.params) == {"family", *registry.get("tiny").config.model_fields}
    assert run.data.params["lr"] == "0.02"
