"""The runs filter language: parsing, name resolution, comparison semantics, robustness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.query import apply, mask, resolve
from dashboard.query_syntax import MAX_DEPTH, MAX_LENGTH, BoolOp, Compare, MatchAll, Not, QueryError, parse

A, B, C = "a" * 32, "b" * 32, "c" * 32


def runs_frame():
    return pd.DataFrame({
        "run_id": [A, B, C],
        "run_name": ["alpha", "Beta", "gamma"],
        "status": ["FINISHED", "RUNNING", "FAILED"],
        "start_time": pd.to_datetime(["2024-01-01", "2024-06-01", None], utc=True),
        "params.lr": ["0.001", "0.1", None],
        "params.model": ["cnn", "mlp", "cnn"],
        "params.batch": ["32", "128", "big"],
        "tags.runboard.family": ["digits", "digits", "regression"],
        "tags.model": ["tag-model", "tag-model", "tag-model"],
        "metrics.val/acc": [0.95, 0.8, np.nan],
        "metrics.val/loss.min": [0.1, 0.3, 0.2],
    })


def ids(text):
    return list(apply(runs_frame(), text)["run_id"])


def test_parse_builds_the_tree_with_and_binding_tighter_than_or():
    assert parse("a = 1 or b = 2 and c = 3") == BoolOp(
        "or", Compare("a", "=", ("1",)),
        BoolOp("and", Compare("b", "=", ("2",)), Compare("c", "=", ("3",))))


def test_blank_filter_matches_everything():
    assert parse("   ") == MatchAll()
    assert ids("") == [A, B, C]


def test_the_example_from_the_brief():
    assert ids('val/acc > 0.9 and (lr < 0.01 or model = "cnn")') == [A]


def test_params_compare_as_numbers_when_both_sides_are_numbers():
    assert ids("lr < 0.01") == [A]  # "0.001" < "0.01" as numbers, not text

def test_order_against_a_number_skips_text_values():
    assert ids("batch > 64") == [B]  # batch="big" is not "greater" than 64


def test_text_order_comparison_against_a_word():
    assert ids("batch > a") == [C]  # "big" > "a" as text; "32", "128" sort before "a"


def test_equality_on_text_ignores_case():
    assert ids("status = finished") == [A]
    assert ids("status == 'FINISHED'") == [A]


def test_substring_operator_is_case_insensitive():
    assert ids("run_name ~ ET") == [B]


def test_in_list_and_not_in():
    assert ids("family in (regression, other)") == [C]
    assert ids("model not in (cnn)") == [B]


def test_not_and_parentheses():
    assert ids("not (model = cnn and lr < 1)") == [B, C]


def test_missing_values_match_nothing_but_not_equal():
    assert ids("lr > 0") == [A, B]
    assert ids("lr != 0.1") == [A, C]
    assert ids("val/acc < 2") == [A, B]


def test_exact_column_names_and_metric_suffixes_resolve():
    assert ids("metrics.val/acc >= 0.95") == [A]
    assert ids("val/loss.min <= 0.2") == [A, C]
    assert ids("tags.model = tag-model") == [A, B, C]


def test_resolution_order_prefers_params_over_tags():
    assert resolve(runs_frame(), "model") == "params.model"
    assert resolve(runs_frame(), "family") == "tags.runboard.family"


def test_quoted_strings_with_escapes_and_spaces():
    runs = runs_frame().assign(run_name=["it's here", "x", "y"])
    assert list(apply(runs, r"run_name = 'it\'s here'")["run_id"]) == [A]


def test_start_time_compares_as_dates():
    assert ids("start_time > 2024-03-01") == [B]


def test_scientific_notation_numbers():
    assert ids("lr <= 1e-3") == [A]


def test_mask_is_a_boolean_series_on_the_frame_index():
    runs = runs_frame().set_index(pd.Index([10, 20, 30]))
    result = mask(runs, "model = cnn")
    assert result.dtype == bool and list(result.index) == [10, 20, 30]


@pytest.mark.parametrize("text, fragment", [
    ("lr <", "expected a value at position 5"),
    ("(lr < 1", "expected ')'"),
    ("lr 1", "expected an operator"),
    ("lr < 1 lr", "position 8"),
    ("lr = 'open", "unterminated string"),
    ("lr = $", "unexpected character '$'"),
    ("and lr = 1", "expected a field name"),
    ("lr in 1", "expected '(' after 'in'"),
])
def test_syntax_errors_say_where(text, fragment):
    with pytest.raises(QueryError, match=fragment.replace("(", r"\(").replace(")", r"\)")
                       .replace("$", r"\$")):
        parse(text)


def test_unknown_name_suggests_close_names():
    with pytest.raises(QueryError, match=r"unknown field 'val/ac'.*val/acc"):
        mask(runs_frame(), "val/ac > 1")


def test_text_value_against_a_metric_is_an_error():
    with pytest.raises(QueryError, match="not a number"):
        mask(runs_frame(), "val/acc > high")


def test_bad_date_is_an_error():
    with pytest.raises(QueryError, match="not a date"):
        mask(runs_frame(), "start_time > someday")


def test_input_length_is_bounded():
    with pytest.raises(QueryError, match="longer than"):
        parse("a = 1 or " * (MAX_LENGTH // 9) + "a = 1")


def test_nesting_depth_is_bounded():
    with pytest.raises(QueryError, match="nests deeper"):
        parse("(" * (MAX_DEPTH + 1) + "a = 1" + ")" * (MAX_DEPTH + 1))


def test_not_is_a_tree_node():
    assert parse("not a = 1") == Not(Compare("a", "=", ("1",)))


_PIECES = st.sampled_from([
    "lr", "val/acc", "model", "family", "start_time", "status", "and", "or", "not", "in", "(",
    ")", ",", "=", "==", "!=", "<", "<=", ">", ">=", "~", "'x'", '"y', "0.1", "-3", "1e9", "cnn",
    "nope", " ", "\\", "'", "2024-01-01", "\x00", "é",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=12).map(" ".join))
def test_token_soup_raises_only_query_error(text):
    try:
        mask(runs_frame(), text)
    except QueryError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_random_text_raises_only_query_error(text):
    try:
        mask(runs_frame(), text)
    except QueryError:
        pass


def test_health_is_a_list_column_matched_by_flag():
    runs = runs_frame().assign(health=["nan, spike", "", None])
    assert list(apply(runs, 'health = "spike"')["run_id"]) == [A]
    assert list(apply(runs, "health = NaN or health = stalled")["run_id"]) == [A]
    assert list(apply(runs, "health in (stalled, nan)")["run_id"]) == [A]
    assert list(apply(runs, "health != spike")["run_id"]) == [B, C]
    assert list(apply(runs, "health ~ spi")["run_id"]) == [A]
