"""The README's run command (`make run`) serves the dashboard on 127.0.0.1 with the store's runs."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from browser_util import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    WAIT_MS,
    _wait_healthy,
    free_port,
    require_chromium,
    wait_for_rerun,
)

from trainers.spec import build_spec
from trainers.train import train

pytestmark = pytest.mark.browser


def test_make_run_serves_the_runs_of_the_store(sqlite_store, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    assert train(build_spec("linreg", {"max_epochs": 1}, run_name="readme-smoke")).status == "FINISHED"
    port, log_path = free_port(), tmp_path / "make-run.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=REPO, env=os.environ.copy(),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, proc, log_path, timeout=300)  # first call may build .venv
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(base + "/", timeout=WAIT_MS)
            wait_for_rerun(page)
            expect(page.get_by_text("readme-smoke").first).to_be_attached(timeout=WAIT_MS)
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
