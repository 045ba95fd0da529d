"""URL view state: parsing with notices, defaults omitted, round trip."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.viewstate import (
    BAND_CHOICES,
    MAX_ITEMS,
    MAX_QUERY,
    MAX_SMOOTH,
    MAX_STEP,
    SIG_CHOICES,
    X_CHOICES,
    ViewState,
    from_params,
    to_params,
)

RUN = "0123456789abcdef0123456789abcdef"
RUN2 = "f" * 32


def test_empty_params_give_the_default_state_without_notices():
    assert from_params({}) == (ViewState(), [])


def test_default_state_has_no_params():
    assert to_params(ViewState()) == {}


def test_full_state_from_params():
    state, notes = from_params({
        "exp": "3", "runs": f"{RUN},{RUN2}", "metrics": "val/loss,val/acc", "x": "epoch",
        "smooth": "0.6", "logy": "1", "group": "seed", "band": "ci95", "q": "lr < 0.01",
        "sort": "-metrics.val/acc", "cols": "params.lr,metrics.val/f1", "run": RUN,
    })
    assert notes == []
    assert state == ViewState(exp="3", runs=(RUN, RUN2), metrics=("val/loss", "val/acc"),
                              x="epoch", smooth=0.6, logy=True, group="seed", band="ci95",
                              q="lr < 0.01", sort="-metrics.val/acc",
                              cols=("params.lr", "metrics.val/f1"), run=RUN)


def test_lists_are_comma_joined_and_defaults_left_out():
    assert to_params(ViewState(runs=(RUN, RUN2), smooth=0.5)) == {"runs": f"{RUN},{RUN2}",
                                                                  "smooth": "0.5"}


def test_bad_smooth_falls_back_to_zero_with_the_documented_notice():
    state, notes = from_params({"smooth": "abc"})
    assert state.smooth == 0.0
    assert notes == ["smooth=abc is not a number between 0 and 0.99; using 0"]


def test_out_of_range_and_nan_smooth_are_rejected():
    for raw in ("1", "-0.1", "nan", "inf"):
        state, notes = from_params({"smooth": raw})
        assert state.smooth == 0.0 and len(notes) == 1


def test_unknown_x_falls_back_to_step():
    state, notes = from_params({"x": "time"})
    assert state.x == "step" and "x=time is not one of step, epoch, relative, wall" in notes[0]


def test_malformed_run_ids_are_dropped_with_one_notice():
    state, notes = from_params({"runs": f"{RUN},nothex,{RUN[:-1]}"})
    assert state.runs == (RUN,)
    assert len(notes) == 1 and "dropped 2" in notes[0]


def test_run_ids_are_lowercased_and_deduplicated():
    state, notes = from_params({"runs": f"{RUN.upper()},{RUN},,"})
    assert state.runs == (RUN,) and notes == []


def test_too_many_runs_are_capped_with_a_notice():
    many = ",".join(f"{i:032x}" for i in range(MAX_ITEMS["runs"] + 5))
    state, notes = from_params({"runs": many})
    assert len(state.runs) == MAX_ITEMS["runs"] and "kept the first" in notes[0]


def test_long_filter_is_cut_with_a_notice():
    state, notes = from_params({"q": "a" * (MAX_QUERY + 10)})
    assert len(state.q) == MAX_QUERY and "cut" in notes[0]


def test_script_text_is_not_echoed_raw():
    state, notes = from_params({"run": "<script>alert(1)</script>" * 5})
    assert state.run is None
    assert "<" not in notes[0] and ">" not in notes[0] and "…" in notes[0]


def test_notices_escape_control_characters():
    _, notes = from_params({"x": "a\nb\x1b[31m"})
    assert "\n" not in notes[0] and "\x1b" not in notes[0]


def test_bad_flag_is_off_with_a_notice():
    state, notes = from_params({"logy": "maybe"})
    assert state.logy is False and len(notes) == 1


def test_unknown_keys_are_ignored():
    assert from_params({"tab": "params", "embed": "true"}) == (ViewState(), [])


def test_bad_metric_name_dropped():
    state, notes = from_params({"metrics": "val/loss,<b>x</b>"})
    assert state.metrics == ("val/loss",) and len(notes) == 1


def _range(pair):
    lo, hi = pair
    if lo is None and hi is None:
        return None
    return (min(lo, hi), max(lo, hi)) if lo is not None and hi is not None else (lo, hi)


_step = st.none() | st.integers(-MAX_STEP, MAX_STEP)
_names = st.from_regex(r"[A-Za-z0-9_]([A-Za-z0-9_./\-: @]{0,20}[A-Za-z0-9_./:@-])?",
                       fullmatch=True)
_run_ids = st.from_regex(r"[0-9a-f]{32}", fullmatch=True)
_query = st.text(max_size=60).map(lambda t: "".join(c for c in t if c.isprintable()).strip())
_states = st.builds(
    ViewState,
    exp=st.none() | st.from_regex(r"[A-Za-z0-9_-]{1,10}", fullmatch=True),
    runs=st.lists(_run_ids, max_size=5, unique=True).map(tuple),
    metrics=st.lists(_names, max_size=4, unique=True).map(tuple),
    x=st.sampled_from(X_CHOICES),
    smooth=st.floats(0.0, MAX_SMOOTH, allow_nan=False).map(lambda v: v + 0.0),
    logy=st.booleans(),
    group=st.none() | _names,
    band=st.sampled_from(BAND_CHOICES),
    q=_query,
    sort=st.none() | st.tuples(st.sampled_from(["", "-"]), _names).map("".join),
    cols=st.lists(_names, max_size=4, unique=True).map(tuple),
    run=st.none() | _run_ids,
    steps=st.tuples(_step, _step).map(_range),
    pmetric=st.none() | _names,
    pparams=st.lists(_names, max_size=4, unique=True).map(tuple),
    sparam=st.none() | _names,
    diff=st.booleans(),
    sig=st.sampled_from(SIG_CHOICES),
    imetric=st.none() | _names,
)


@settings(max_examples=300, deadline=None)
@given(_states)
def test_round_trip(state):
    back, notes = from_params(to_params(state))
    assert back == state and notes == []


_keys = st.sampled_from(["exp", "runs", "metrics", "x", "smooth", "logy", "group", "band", "q",
                         "sort", "cols", "run", "steps", "pmetric", "pparams", "sparam", "diff",
                         "sig", "imetric", "other"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, st.text(max_size=80)))
def test_any_params_parse_and_then_round_trip(params):
    state, _ = from_params(params)
    assert from_params(to_params(state)) == (state, [])


def test_filter_whitespace_becomes_spaces():
    assert from_params({"q": "\tlr <\n0.1 "})[0].q == "lr < 0.1"


def test_step_range_forms():
    assert from_params({"steps": "500:999"}) == (ViewState(steps=(500, 999)), [])
    assert from_params({"steps": "500:"})[0].steps == (500, None)
    assert from_params({"steps": ":-3"})[0].steps == (None, -3)
    assert from_params({"steps": ":"}) == (ViewState(), [])
    assert to_params(ViewState(steps=(500, None))) == {"steps": "500:"}


def test_bad_step_range_is_dropped_with_a_notice():
    for raw in ("999:500", "abc", "1.5:2", "<script>alert(1)</script>", f"0:{MAX_STEP + 1}", "1:2:3"):
        state, notes = from_params({"steps": raw})
        assert state.steps is None and len(notes) == 1 and "showing every step" in notes[0]
        assert "<" not in notes[0]


def test_explorer_choices_and_differences_toggle():
    state, notes = from_params({"pmetric": "val/acc", "pparams": "lr,layers", "sparam": "lr",
                                "diff": "0"})
    assert notes == []
    assert state == ViewState(pmetric="val/acc", pparams=("lr", "layers"), sparam="lr", diff=False)
    assert to_params(state) == {"pmetric": "val/acc", "pparams": "lr,layers", "sparam": "lr",
                                "diff": "0"}


def test_bad_explorer_values_are_dropped_with_notices():
    state, notes = from_params({"pparams": "lr,<b>x</b>", "sparam": "<i>", "diff": "maybe"})
    assert state == ViewState(pparams=("lr",)) and len(notes) == 3
    assert "using on" in notes[2]
