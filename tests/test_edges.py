"""Edges found by fault and input tests (issue 20): a store that fails while a run is set up, and
bad input of any size reported in a short, escaped line, fast."""

import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.viewstate import from_params
from experiments import forms
from trainers import tracking
from trainers.config import ConfigError, parse_overrides
from trainers.excerpt import excerpt
from trainers.registry import families
from trainers.spec import build_spec, load_file, spec_from_target
from trainers.train import main

MLP_FIELDS = families()["mlp"].config.model_fields
FLOAT_FIELDS = [name for name, f in MLP_FIELDS.items() if f.annotation is float]


def all_runs(uri):
    c = tracking.client(uri)
    return [r for e in c.search_experiments() for r in c.search_runs([e.experiment_id])]


# -- non-finite numbers ------------------------------------------------------------------------

@pytest.mark.parametrize("field", FLOAT_FIELDS)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "Infinity", "1e999", float("nan"), float("inf")])
def test_non_finite_numbers_are_refused_as_such(field, value):
    with pytest.raises(ConfigError) as err:
        build_spec("mlp", {field: value})
    assert str(err.value).startswith(f"{field}: must be a finite number")


def test_cli_set_lr_nan_says_finite(sqlite_store, capsys):
    assert main(["mlp", "--set", "lr=nan"]) == 2
    assert capsys.readouterr().err.strip() == "config error: lr: must be a finite number (got 'nan')"
    assert all_runs(sqlite_store) == []


# -- bounded, escaped excerpts -----------------------------------------------------------------

def test_excerpt_is_short_escaped_and_says_how_much_was_cut():
    assert excerpt("abc") == "'abc'"
    shown = excerpt("x" * 100_000 + "\n\x1b[2J")
    assert len(shown) < 100 and "\n" not in shown and "\x1b" not in shown and "(of 100,005 chars)" in shown
    assert len(excerpt(list(range(10**6)))) < 100


def _errors_of(fn) -> str:
    try:
        fn()
    except ConfigError as err:
        return str(err)
    return ""


def _check_bounded(fn):
    start = time.process_time()
    out = _errors_of(fn)
    assert time.process_time() - start < 1.0
    assert len(out.encode()) <= 1000, out[:300]
    return out


big_text = st.one_of(
    st.text(max_size=200),
    st.builds(lambda ch, n, tail: ch * n + tail, st.characters(), st.integers(0, 1_000_000), st.text(max_size=20)),
)
CONFIG_FIELDS = [*MLP_FIELDS, "no_such_field"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(field=st.sampled_from(CONFIG_FIELDS), value=big_text, key=big_text)
def test_any_input_up_to_1mb_gives_a_short_error_fast(tmp_path_factory, field, value, key):
    _check_bounded(lambda: build_spec("mlp", {field: value}))
    _check_bounded(lambda: build_spec("mlp", {key: value}))
    _check_bounded(lambda: parse_overrides([value]))
    _check_bounded(lambda: spec_from_target("mlp", parse_overrides([f"{field}={value}"])))
    _check_bounded(lambda: build_spec("mlp", {}, run_name=value))
    _check_bounded(lambda: build_spec("mlp", {}, experiment=value))
    _check_bounded(lambda: build_spec(value, {}))
    _check_bounded(lambda: forms.sweep_field("mlp", "lr", value + ".."))
    start = time.process_time()
    spec, errors = forms.validate("mlp", {field: value}, experiment=value, run_name=value)
    assert time.process_time() - start < 1.0 and len("; ".join(errors.values()).encode()) <= 1000
    start = time.process_time()
    _, notes = from_params({"exp": value, "runs": value, "metrics": value, "q": value, "group": value, "run": value})
    assert time.process_time() - start < 1.0 and len("\n".join(notes).encode()) <= 1000 * max(1, len(notes))
    path = tmp_path_factory.mktemp("yaml") / "x.yaml"
    path.write_text(f"family: mlp\nname: {value!r}\nconfig:\n  {field}: {value!r}\n", errors="surrogatepass")
    _check_bounded(lambda: spec_from_target(str(path), {}))


# -- YAML alias bombs and size ------------------------------------------------------------------

BOMB = textwrap.dedent("""\
    family: mlp
    config:
      dropout: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
      hidden: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
      lr: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
      seed: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
      max_epochs: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
      batch_size: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
      max_steps: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
      weight_decay: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
      val_fraction: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    name: *i
    """)

MEASURE = """
import resource, sys, time
sys.path[:0] = [{repo!r}]
from trainers.spec import spec_from_target
from trainers.config import ConfigError
from trainers import registry
registry.get("mlp")  # imports done: what follows is the file alone
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
before = time.process_time()
try:
    spec_from_target(sys.argv[1], {{}})
    out = "accepted"
except ConfigError as err:
    out = str(err)
cpu = time.process_time() - before
print(cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before, out)
"""


@pytest.mark.parametrize("doc", [BOMB, BOMB.replace("name: *i", "name: *c"), "family: mlp\nconfig: &x {lr: 0.1}\n",
                                 "family: mlp\nconfig:\n" + "  # padding\n" * 20_000])
def test_alias_bombs_and_huge_files_are_refused_fast_in_little_memory(tmp_path, doc):
    path = tmp_path / "bomb.yaml"
    path.write_text(doc)
    out = subprocess.run([sys.executable, "-c", MEASURE.format(repo=str(tracking.REPO)), str(path)],
                         capture_output=True, text=True, check=True).stdout
    cpu, maxrss_kb, message = out.split(" ", 2)
    assert float(cpu) < 1.0
    assert int(maxrss_kb) < 100 * 1024  # peak growth while reading the file (after torch etc. are imported)
    assert ("anchors and aliases" in message or "the limit is" in message) and len(message) < 300, message


def test_plain_yaml_still_loads(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("family: mlp\nname: plain\nconfig:\n  lr: 0.01\n")
    assert load_file(path)["config"] == {"lr": 0.01}


# -- the store fails while a run is set up ----------------------------------------------------

def _mount_tmpfs(where, size):
    where.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True, capture_output=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs here ({exc})")


def _fill(where, leave):
    st = os.statvfs(where)
    free = st.f_bavail * st.f_frsize
    with open(where / "filler", "wb") as f:
        f.write(b"\0" * max(0, free - leave))


def test_full_disk_during_set_up_leaves_no_running_run(tmp_path, sqlite_template, monkeypatch, capsys):
    """Fill the store's filesystem to several levels: whichever step fails (create_run or the
    settings logged right after it), the trainer exits non-zero with one line and the store holds
    no RUNNING run: the run is FAILED with the reason, or there is none. At least one level must
    fail after the run exists."""
    seen_failed = False
    # 20-22 KB and 32-34 KB left are where even the FAILED status needs the space the WAL holds
    for i, leave in enumerate([0, 8192, 16384, 20480, 22528, 24576, 32768, 34816, 49152]):
        small = tmp_path / f"small{i}"
        _mount_tmpfs(small, "4m")
        try:
            shutil.copyfile(sqlite_template, small / "mlflow.db")
            uri = f"sqlite:///{small / 'mlflow.db'}"
            tracking.experiment_id("edges", uri)
            monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
            monkeypatch.setenv("RUNBOARD_ARTIFACT_ROOT", (tmp_path / f"artifacts{i}").as_uri())
            _fill(small, leave)
            rc = main(["mlp", "--experiment", "edges", "--set", "max_epochs=1", "--name", "x" * 100])
            err = capsys.readouterr().err.strip()
            os.remove(small / "filler")
            runs = all_runs(uri)
            if rc == 0 or (runs and "could not start run" not in err):
                break  # set-up got through: the levels below covered it (ends after set-up are not this test's)
            assert len(err.splitlines()) == 1 and "Traceback" not in err, err
            assert all(r.info.status != "RUNNING" for r in runs), (leave, err[-400:])
            for r in runs:
                assert r.info.status == "FAILED" and r.info.run_id in err and "disk is full" in err
                # the reason is stored unless the full store refused even that, which the line says
                assert "full" in r.data.tags.get("runboard.error", "") or "refused the reason" in err, err
                seen_failed = True
        finally:
            subprocess.run(["umount", "-l", str(small)], check=False)
    assert seen_failed, "no fill level made set-up fail after the run was created"


def test_a_stop_signal_during_set_up_ends_the_new_run_killed_with_the_reason(sqlite_store, monkeypatch):
    """SIGTERM arriving while the run is being created (the queue's Stop, a Ctrl-C): the run the
    store now holds ends KILLED, "stopped by request", and no training starts."""
    import signal

    from trainers import run_record, train

    made = run_record.start

    def start_then_signal(*args, **kwargs):
        run_id = made(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # lands between the run's creation and training
        return run_id

    monkeypatch.setattr(run_record, "start", start_then_signal)
    result = train.train(build_spec("mlp", {"max_epochs": 1}))
    run = tracking.client(sqlite_store).get_run(result.run_id)
    assert (result.status, run.info.status) == ("KILLED", "KILLED")
    assert run.data.tags["runboard.error"] == "stopped by request"
    assert not run.data.metrics  # nothing trained
