"""``python -m dashboard [streamlit run options]``: serve the dashboard, its queue worker started
with the process.

``streamlit run dashboard/app.py`` works too, but there the worker only starts with the first page
view (Streamlit runs no app code before a session opens), so after a restart the queue stood still
until someone opened a page. Run from the repository root (``-m`` puts it on ``sys.path``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from experiments.worker import ensure_started

APP = Path(__file__).with_name("app.py")


def main(argv: list[str] | None = None) -> None:
    from streamlit.web import cli


    args = sys.argv[1:] if argv is None else argv
    if not {"-h", "--help"} & set(args):  # asking for help starts no runs
        ensure_started()  # before the server: queued runs move while nobody has a page open
    cli.main(["run", str(APP), *args], prog_name="streamlit")


if __name__ == "__main__":
    main()
