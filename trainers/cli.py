"""``runboard``: one command over the entry points the README runs.

    runboard dashboard [streamlit args]   # python -m dashboard (streamlit run dashboard/app.py + the queue worker)
    runboard train ...                    # python -m trainers.train ...
    runboard worker ...                   # python -m experiments.worker ...
    runboard accounts ...                 # python -m dashboard.accounts ...
    runboard recover <run id>             # python -m trainers.recover <run id>
"""

from __future__ import annotations

import subprocess
import sys

from dashboard import accounts

USAGE = "usage: runboard {dashboard,train,worker,accounts,recover} [args...]"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip() if argv else USAGE)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "dashboard":
        return subprocess.call([sys.executable, "-m", "dashboard", *rest])
    if cmd == "train":
        from trainers.train import main as run
    elif cmd == "worker":
        from experiments.worker import main as run
    elif cmd == "accounts":
        run = accounts.main
    elif cmd == "recover":
        from trainers.recover import main as run
    else:
        print(USAGE, file=sys.stderr)
        return 2
    return int(run(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
