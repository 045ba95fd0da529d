"""Runboard's entry point: the page router and the frame around every page.

Run from the repository root: ``.venv/bin/python -m dashboard`` (``-m`` puts the repository on
``sys.path`` so pages can ``import dashboard``; it starts the queue worker with the process, where
``-m streamlit run dashboard/app.py`` starts it with the first page view).
"""

import streamlit as st

from dashboard import auth, data, heap, login, reads, rerun_gc, share
from experiments.worker import ensure_started
from trainers import tracking

st.set_page_config(page_title="Runboard", page_icon=":material/monitoring:", layout="wide")

PAGES = [
    st.Page("app_pages/runs.py", title="Runs", icon=":material/table_rows:", url_path="runs", default=True),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/stacked_line_chart:", url_path="compare"),
    st.Page("app_pages/run.py", title="Run", icon=":material/insights:", url_path="run"),
    st.Page("app_pages/launch.py", title="Launch", icon=":material/rocket_launch:", url_path="launch"),
    st.Page("app_pages/activity.py", title="Activity", icon=":material/pending_actions:", url_path="activity"),
]



def _frame() -> None:
    # The launch queue lives in the store; one worker per store starts queued runs. `python -m dashboard`
    # starts it with the process; under a bare `streamlit run` this starts it with the first page view.
    st.cache_resource(ensure_started)()
    st.cache_resource(data.start_summariser)()  # long foreign curves summarised ahead of their views

    # With login on, an anonymous visitor gets the sign-in screen on every page and nothing else. The
    # page and its query string are left alone, so signing in shows the view the link named.
    cfg, user = auth.gate()
    page = st.navigation(PAGES, position="sidebar" if user else "hidden")
    if user is None:
        login.login_ui(cfg)
    else:
        if cfg.mode == "oidc":
            login.return_to_view(PAGES)
        login.account_ui(user, cfg)
        auth.refusal_ui()
        if problem := reads.store_problem(tracking.tracking_uri()):  # every page, also those that read nothing yet
            reads.store_down_ui(problem)
        page.run()
        share.link_ui(page.url_path)
    rerun_gc.freeze_imports()  # the page's imports done: Streamlit's collection after the run skips them


try:
    _frame()
except Exception as exc:  # a store that is down, refused or full: one message on every page, no traceback
    if not data.unreachable(exc):
        raise
    reads.store_down_ui(data.one_line(exc))
finally:
    heap.give_back()  # the run's frames, figures and their JSON are garbage now: hand their pages back
