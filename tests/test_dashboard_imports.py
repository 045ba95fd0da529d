"""The dashboard process carries no torch or Lightning: reading runs needs neither (issue 16)."""

import os
import subprocess
import sys

from trainers import tracking

# Run in a fresh interpreter: this test process has imported torch for other tests already.
PROBE = """
import sys, time
from streamlit.testing.v1 import AppTest
for page in ("runs", "compare", "activity"):
    at = AppTest.from_file("dashboard/app.py", default_timeout=120)
    if page != "runs":
        at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
print(sorted(m for m in ("torch", "pytorch_lightning", "lightning") if m in sys.modules))
"""


def test_the_dashboard_pages_that_read_runs_import_no_torch(sqlite_store):
    from plain_store import write_plain_store

    write_plain_store(sqlite_store)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=tracking.REPO, capture_output=True, text=True,
                         timeout=600, env={**os.environ, "RUNBOARD_WORKER": "thread"})  # the queue worker too
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
