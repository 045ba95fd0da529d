"""The share link: every choice that shapes a view, to and from ``st.query_params`` (str → str).

``from_params`` checks syntax only (run ids are 32 hex characters, numbers are numbers, …) and
returns a notice for every value it drops or shortens; whether a well-formed run id exists is the
page's question. Notices quote at most a short, escaped excerpt of the bad value and pages show
them as plain text. Keys this module does not know are ignored: pages may keep their own keys in
the URL. ``to_params`` omits defaults and comma-joins lists, so
``from_params(to_params(s))[0] == s`` for every valid state.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from dashboard.query_syntax import MAX_LENGTH

X_CHOICES = ("step", "epoch", "relative", "wall")
BAND_CHOICES = ("std", "ci95")
SIG_CHOICES = ("last", "best", "at_best")  # a run's value for significance and importance
MAX_SMOOTH = 0.99
MAX_QUERY = MAX_LENGTH  # a link carries no longer filter than the filter language reads
MAX_ITEMS = {"runs": 500, "metrics": 50, "cols": 100, "pparams": 50}
MAX_STEP = 2**53 - 1  # steps beyond JavaScript's safe integers cannot round-trip a number input
MAX_NAME = 250  # MLflow's limit for metric / param / tag keys

_RUN_ID = re.compile(r"[0-9a-f]{32}")
_EXP = re.compile(r"[A-Za-z0-9_\-]{1,64}")
# Metric and column names: what MLflow allows in keys (no comma: it separates list items), not
# starting with "-" (that marks a descending sort) or a space.
_NAME = re.compile(rf"[A-Za-z0-9_][A-Za-z0-9_./\-: @]{{0,{MAX_NAME - 1}}}")
_UNSAFE = re.compile(r"[^A-Za-z0-9 _.,/:@=+\-()]")
_STEPS = re.compile(r"(-?[0-9]{1,16})?:(-?[0-9]{1,16})?")  # "lo:hi", either end may be empty
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class ViewState:
    exp: str | None = None  # experiment id
    runs: tuple[str, ...] = ()  # selected run ids (compare / chart pages)
    metrics: tuple[str, ...] = ()  # charted metric names, e.g. "val/loss"
    x: str = "step"  # one of X_CHOICES
    smooth: float = 0.0  # EMA weight in [0, MAX_SMOOTH]
    logy: bool = False
    group: str | None = None  # "seed", or a column such as "params.lr", "tags.runboard.family"
    band: str = "std"  # group spread: one of BAND_CHOICES
    q: str = ""  # runs filter text (dashboard.query)
    sort: str | None = None  # runs-table column; a leading "-" sorts descending
    cols: tuple[str, ...] = ()  # extra runs-table columns
    run: str | None = None  # the run page's run id
    steps: tuple[int | None, int | None] | None = None  # zoom: inclusive (from, to), None = open end
    pmetric: str | None = None  # compare explorer's metric (None: the page's default)
    pparams: tuple[str, ...] = ()  # parallel-coordinates params, bare names ("lr"); () = automatic
    sparam: str | None = None  # param-vs-metric scatter's param, bare name
    diff: bool = True  # params table: differences only
    sig: str = "last"  # value per run for the group tests and importance: one of SIG_CHOICES
    sigby: str | None = None  # with sig="at_best": the metric whose best step picks each run's value
    imetric: str | None = None  # the metric param importance explains (None: the page's default)


def _quote(value: str) -> str:
    """A short excerpt for a notice: at most 40 characters, anything but plain ASCII words and
    simple punctuation shown as "?" — markup or control characters from a URL never reach a page."""
    text = _UNSAFE.sub("?", value[:40])
    return text + ("…" if len(value) > 40 else "")


def _choice(key, raw, choices, default, notes):
    if raw in choices:
        return raw
    notes.append(f"{key}={_quote(raw)} is not one of {', '.join(choices)}; using {default}")
    return default


def _smooth(raw: str, notes: list[str]) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if 0.0 <= value <= MAX_SMOOTH:
        return value + 0.0  # -0.0 → 0.0
    notes.append(f"smooth={_quote(raw)} is not a number between 0 and {MAX_SMOOTH}; using 0")
    return 0.0


def _flag(key: str, raw: str, notes: list[str], default: bool = False) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    notes.append(f"{key}={_quote(raw)} is not on/off; using {'on' if default else 'off'}")
    return default


def _token(key: str, raw: str, pattern: re.Pattern, what: str, notes: list[str]) -> str | None:
    value = raw.strip()
    if pattern.fullmatch(value):
        return value
    notes.append(f"{key}={_quote(raw)} is not {what}; ignored")
    return None


def _items(key: str, raw: str, pattern: re.Pattern, what: str, notes: list[str],
           lower: bool = False) -> tuple[str, ...]:
    """A comma-separated list: bad items dropped (one notice), duplicates merged, count capped."""
    kept, bad = [], []
    for item in (part.strip() for part in raw.split(",")):
        item = item.lower() if lower else item
        if not item or item in kept:
            continue
        (kept if pattern.fullmatch(item) else bad).append(item)
    if bad:
        notes.append(f"{key}: dropped {len(bad)} value(s) that are not {what}, "
                     f"e.g. {_quote(bad[0])}")
    limit = MAX_ITEMS[key]
    if len(kept) > limit:
        notes.append(f"{key}: kept the first {limit} of {len(kept)}")
        kept = kept[:limit]
    return tuple(kept)


def _steps(raw: str, notes: list[str]) -> tuple[int | None, int | None] | None:
    match = _STEPS.fullmatch(raw.strip())
    if match:
        lo, hi = (None if g is None else int(g) for g in match.groups())
        in_bounds = all(v is None or abs(v) <= MAX_STEP for v in (lo, hi))
        if in_bounds and (lo is None or hi is None or lo <= hi):
            return None if lo is None and hi is None else (lo, hi)
    notes.append(f"steps={_quote(raw)} is not a step range such as 500:999 (whole numbers, "
                 "from ≤ to); showing every step")
    return None


def _query(raw: str, notes: list[str]) -> str:
    # Any whitespace becomes a space; other unprintables (control, format) would only hide text.
    text = "".join(" " if ch.isspace() else ch for ch in raw)
    text = "".join(ch for ch in text if ch.isprintable()).strip()
    if len(text) > MAX_QUERY:
        notes.append(f"q: the filter is longer than {MAX_QUERY} characters; cut to that length")
        text = text[:MAX_QUERY].strip()
    return text


def from_params(params: Mapping[str, str]) -> tuple[ViewState, list[str]]:
    """The view a URL describes, plus a notice for every value that had to be dropped."""
    notes: list[str] = []
    got = {k: str(v) for k, v in params.items()}
    state: dict = {}
    if "exp" in got:
        state["exp"] = _token("exp", got["exp"], _EXP, "an experiment id", notes)
    if "runs" in got:
        state["runs"] = _items("runs", got["runs"], _RUN_ID, "32-character run ids", notes, True)
    if "metrics" in got:
        state["metrics"] = _items("metrics", got["metrics"], _NAME, "metric names", notes)
    if "x" in got:
        state["x"] = _choice("x", got["x"], X_CHOICES, "step", notes)
    if "smooth" in got:
        state["smooth"] = _smooth(got["smooth"], notes)
    if "logy" in got:
        state["logy"] = _flag("logy", got["logy"], notes)
    if "group" in got:
        state["group"] = _token("group", got["group"], _NAME, "a param or tag name", notes)
    if "band" in got:
        state["band"] = _choice("band", got["band"], BAND_CHOICES, "std", notes)
    if "q" in got:
        state["q"] = _query(got["q"], notes)
    if "sort" in got:
        sort = _token("sort", got["sort"].removeprefix("-"), _NAME, "a column name", notes)
        state["sort"] = None if sort is None else ("-" if got["sort"].startswith("-") else "") + sort
    if "cols" in got:
        state["cols"] = _items("cols", got["cols"], _NAME, "column names", notes)
    if "run" in got:
        run = got["run"].strip().lower()
        state["run"] = _token("run", run, _RUN_ID, "a 32-character run id", notes)
    if "steps" in got:
        state["steps"] = _steps(got["steps"], notes)
    if "pmetric" in got:
        state["pmetric"] = _token("pmetric", got["pmetric"], _NAME, "a metric name", notes)
    if "pparams" in got:
        state["pparams"] = _items("pparams", got["pparams"], _NAME, "param names", notes)
    if "sparam" in got:
        state["sparam"] = _token("sparam", got["sparam"], _NAME, "a param name", notes)
    if "diff" in got:
        state["diff"] = _flag("diff", got["diff"], notes, default=True)
    if "sig" in got:
        state["sig"] = _choice("sig", got["sig"], SIG_CHOICES, "last", notes)
    if "sigby" in got:
        state["sigby"] = _token("sigby", got["sigby"], _NAME, "a metric name", notes)
    if "imetric" in got:
        state["imetric"] = _token("imetric", got["imetric"], _NAME, "a metric name", notes)
    return ViewState(**state), notes


def to_params(state: ViewState) -> dict[str, str]:
    """Query params for ``state``: defaults left out, lists comma-joined, booleans as ``1``."""
    defaults = ViewState()
    out = {}
    for f in fields(ViewState):
        value = getattr(state, f.name)
        if value == getattr(defaults, f.name):
            continue
        if f.name == "steps":
            out[f.name] = ":".join("" if v is None else str(v) for v in value)
        elif isinstance(value, tuple):
            out[f.name] = ",".join(value)
        elif isinstance(value, bool):
            out[f.name] = "1" if value else "0"
        else:
            out[f.name] = str(value)
    return out
