"""Keeping Streamlit's collection after every script run cheap.

Streamlit runs ``gc.collect(2)`` after each script run (``runner.postScriptGC``), fragment runs
included: a full pass over every tracked object, ~250k once Plotly, pandas and MLflow are imported.
Measured on the Compare page of 20 runs (load 8–12 on 2 cores) it took 0.3–0.9 s of each
0.7–2.2 s rerun, holding the GIL, so the server sent nothing meanwhile. The imports' objects live as
long as the process: ``gc.freeze()`` moves them to a generation the collector skips, and the pass
then walks only what the session made (the collection still runs, so cyclic garbage of a view is
still freed). Frozen objects are still freed by reference counting; only a cycle among them that
dies later is never collected, so the collector runs first and the freeze happens only when a page
imported something new (a few times per process).
"""

from __future__ import annotations

import gc
import sys
import threading

_lock = threading.Lock()
_modules_seen = 0


def freeze_imports() -> bool:
    """Collect, then freeze what is alive, if modules were imported since the last freeze; returns
    whether it froze. Call it after a page ran (its imports done)."""
    global _modules_seen
    with _lock:
        if len(sys.modules) == _modules_seen:
            return False
        _modules_seen = len(sys.modules)
        gc.collect()
        gc.freeze()
        return True
