"""Streamlit's collection after each rerun skips the imports' objects (dashboard.rerun_gc)."""

import gc
import sys

from dashboard import rerun_gc


def test_freezes_after_new_imports_only():
    rerun_gc._modules_seen = 0  # as in a process whose first page just ran
    try:
        _check()
    finally:
        gc.unfreeze()  # the other tests' process as it was


def _check():
    assert rerun_gc.freeze_imports()
    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # the test process's imports: pytest, numpy, streamlit, …
    assert not rerun_gc.freeze_imports()  # nothing imported since: no collection, no freeze
    sys.modules["runboard_test_fake_module"] = type(sys)("runboard_test_fake_module")
    try:
        assert rerun_gc.freeze_imports()
    finally:
        del sys.modules["runboard_test_fake_module"]
    cycle = [None]
    cycle[0] = cycle  # garbage made after the freeze is still collected
    del cycle
    assert gc.collect() >= 1
