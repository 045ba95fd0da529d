"""Run a user's own Lightning script for a queued run: ``python -m trainers.run_script <run id> <script> [args]``.

The run id is in this process's argv (the reaper's pid check) and in ``RUNBOARD_RUN_ID``, which the
script's ``RunboardLogger`` attaches to. The script runs as ``__main__`` with its own argv."""

from __future__ import annotations

import os
import runpy
import sys

from trainers.run_tags import RUN_ID_ENV


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    run_id, script, args = argv[0], argv[1], argv[2:]
    os.environ[RUN_ID_ENV] = run_id
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
