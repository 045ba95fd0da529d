"""Run health flags from full curves, with known answers (issue 17): pure functions, no store."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.analysis import health as H

STEPS = np.arange(2000)


def healthy(seed: int = 0, n: int = 2000, noise: float = 0.02) -> np.ndarray:
    """A loss falling like 1/t towards 0.1 with minibatch noise."""
    rng = np.random.default_rng(seed)
    return 0.1 + 1.0 / (1 + np.arange(n) / 50) + noise * rng.standard_normal(n)


@pytest.mark.parametrize("seed", range(20))
def test_a_noisy_falling_loss_is_healthy(seed):
    h = H.curve_health(STEPS, healthy(seed))
    assert h == H.CurveHealth(trend=h.trend, tail_step=h.tail_step) and h.trend <= 0
    assert H.run_flags({"train/loss": h}) == []


def test_nan_and_inf_are_found_at_their_first_step():
    values = healthy()
    values[700], values[900] = np.inf, np.nan
    assert H.curve_health(STEPS, values).nan_step == 700
    assert H.curve_health(STEPS, values, loss=False) == H.CurveHealth(nan_step=700)
    flags = H.run_flags({"train/loss": H.curve_health(STEPS, values)})
    assert flags == [H.Flag("nan", "train/loss", 700)]


def test_a_loss_jump_is_a_spike_where_it_peaks():
    values = healthy()
    values[1234] += 2.0  # one bad batch
    assert H.curve_health(STEPS, values).spike_step == 1234
    assert [f.flag for f in H.run_flags({"train/loss": H.curve_health(STEPS, values)})] == ["spike"]


def test_a_drop_is_not_a_spike_and_short_curves_are_not_judged():
    values = healthy()
    values[1234] -= 0.5
    assert H.curve_health(STEPS, values).spike_step is None
    assert H.spike_step(np.arange(5), np.array([1.0, 1.0, 9.0, 1.0, 1.0])) is None


def test_a_smooth_curve_never_spikes():
    values = 1.0 / (1 + STEPS / 50)
    assert H.curve_health(STEPS, values).spike_step is None


def test_a_loss_rising_over_the_last_part_is_diverging():
    values = healthy()
    values[1300:] += np.linspace(0, 0.8, 700)  # falls, then climbs for the last 700 steps
    h = H.curve_health(STEPS, values)
    assert h.trend > H.RISE and h.spike_step is None
    assert H.run_flags({"train/loss": h}) == [H.Flag("diverging", "train/loss", h.tail_step)]


def test_val_loss_rising_while_train_loss_falls_is_overfitting():
    epochs = np.arange(30)
    val = 0.5 + 0.002 * (epochs - 10) ** 2  # best at epoch 10, then up
    curves = {"train/loss": H.curve_health(STEPS, healthy()), "val/loss": H.curve_health(epochs, val)}
    assert curves["train/loss"].trend < 0 < curves["val/loss"].trend
    assert [f.flag for f in H.run_flags(curves)] == ["overfitting"]
    # Both rising: the run diverges.
    rising = H.CurveHealth(trend=0.5, tail_step=1)
    assert [f.flag for f in H.run_flags({"train/loss": rising, "val/loss": rising})] == ["diverging"]


def test_accuracy_curves_only_get_the_nan_check():
    acc = np.linspace(0.1, 0.9, 100)  # rising, as accuracy should
    assert not H.is_loss("val/acc") and H.is_loss("val/loss") and H.is_loss("train_loss")
    assert H.curve_health(np.arange(100), acc, loss=False) == H.CurveHealth()


def test_flags_come_in_one_order_with_the_earliest_evidence_and_stalled_from_the_caller():
    a = H.CurveHealth(nan_step=50, spike_step=10)
    b = H.CurveHealth(nan_step=20)
    flags = H.run_flags({"train/loss": a, "val/loss": b}, stalled=True)
    assert flags == [H.Flag("nan", "val/loss", 20), H.Flag("spike", "train/loss", 10), H.Flag("stalled")]
    assert H.text(flags) == "nan, spike, stalled"
    assert H.twin("val/loss") == "train/loss" and H.twin("val_loss") == "train_loss" and H.twin("lr") is None


@pytest.mark.parametrize("seed", range(10))
def test_multiplicative_minibatch_noise_is_no_spike_but_a_real_jump_is(seed):
    rng = np.random.default_rng(seed)
    steps = np.arange(10_000)
    values = (0.1 + 1.0 / (1 + steps / 50)) * rng.lognormal(0, 0.15, len(steps))  # noise ∝ level
    assert H.curve_health(steps, values).spike_step is None
    values[8000] = 5 * values[7990:8000].max()
    assert H.curve_health(steps, values).spike_step == 8000


def test_a_curve_too_short_for_a_last_part_has_no_trend():
    assert H.tail_trend(np.arange(9), np.arange(9.0)) == (0.0, None)
    assert H.tail_trend(np.arange(10), np.arange(10.0))[0] > 0
