"""Fuzz the launch validation (form values -> forms.validate -> trainers.spec.build_spec): every
input becomes a well-typed spec or a message per field; nothing escapes, nothing starts."""

import tiny_family  # noqa: F401 - a user-registered family is fuzzed too
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from launch_util import children_of_this_process

from experiments import forms
from trainers.registry import families
from trainers.spec import RunSpec

FAMILIES = sorted(families())
TYPES = {"int": int, "number": float, "bool": bool, "text": str}


values = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.booleans(),
    st.none(),
    st.sampled_from(
        ["x; rm -rf ~", "--help", "$(reboot)", "1e309", "nan", "-0", " 3 ", "0x10", "1_000", "true", "adam"]
    ),
    st.lists(st.integers(), max_size=3),
)


@st.composite
def forms_input(draw):
    family = draw(st.sampled_from(FAMILIES + ["nosuch"]))
    known = [f.name for f in forms.form_fields(family)] if family in families() else ["lr"]
    keys = draw(st.lists(st.one_of(st.sampled_from(known), st.text(max_size=12)), max_size=6))
    raw = {k: draw(values) for k in keys}
    return family, raw, draw(st.one_of(st.none(), st.text(max_size=30))), draw(st.one_of(st.none(), values))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(forms_input())
def test_every_input_is_a_typed_spec_or_messages_and_nothing_starts(case):
    family, raw, experiment, name = case
    before = children_of_this_process()
    spec, errors = forms.validate(family, raw, experiment, name)
    assert children_of_this_process() <= before  # validation starts no process
    if spec is None:
        assert errors and all(isinstance(m, str) and m.strip() for m in errors.values())
        return
    assert errors == {} and isinstance(spec, RunSpec) and spec.family == family
    assert isinstance(spec.config, families()[family].config)
    for field in forms.form_fields(family):
        value = getattr(spec.config, field.name)
        if field.kind == "choice":
            assert value in field.options
        elif field.kind in TYPES:
            assert type(value) is TYPES[field.kind] or (field.kind == "number" and type(value) is int)
        if field.minimum is not None and isinstance(value, (int, float)):
            assert value > field.minimum if field.min_exclusive else value >= field.minimum
        if field.maximum is not None and isinstance(value, (int, float)):
            assert value < field.maximum if field.max_exclusive else value <= field.maximum
