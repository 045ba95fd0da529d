"""Write a run's journalled points into the store, then set the status its training ended with.

    python -m trainers.recover <run id>

For a run that ended FAILED with "N points not written" (the store was away when it finished):
its points wait in ``<runtime folder>/journal/<run id>.jsonl`` on the host that trained it. Each
batch is written as it was logged (same timestamps), so a batch the store already holds is not
stored twice, and a recover cut short can simply be run again. Exit 0 once everything is in and the
status is set (FINISHED if the training had finished); 1 if the store still refuses; 2 if there is
nothing to recover.
"""

from __future__ import annotations

import argparse
import os
import sys

from mlflow.entities import RunTag

from trainers import run_tags as T
from trainers import tracking
from trainers.journal import Journal, not_written_reason
from trainers.run_record import one_line
from trainers.store_writer import MAX_BATCH, write_batch


class NothingToRecover(RuntimeError):
    pass


def recover(run_id: str, uri: str | None = None) -> tuple[int, str | None]:
    """Write the journal's points and set the final status; returns (points written, status set)."""
    client = tracking.client(uri)
    journal = Journal(run_id, client.tracking_uri)
    facts, (batches, _) = journal.facts(), journal.read()
    if facts is None:
        raise NothingToRecover(f"no journal with an ending for run {run_id} in {journal.path.parent}"
                               + (" (its trainer is still writing it)" if batches else ""))
    client.set_tag(run_id, T.POINTS_NOT_WRITTEN, T.RECOVERING)  # pages say so while it runs
    written = 0
    for points, tags, artifacts in batches:
        for i in range(0, max(len(points), 1), MAX_BATCH):
            write_batch(client, run_id, (points[i : i + MAX_BATCH], tags if i == 0 else {}))
        written += len(points)
        for local, artifact_dir in artifacts:  # the trainer's temp files: gone unless it is still alive
            if os.path.exists(local):
                client.log_artifact(run_id, local, artifact_dir)
    if written < facts["points"]:  # the journal could not keep them all: the run stays FAILED, and says so
        lost = not_written_reason(facts["points"] - written, f"lost: the journal kept {written} of {facts['points']}")
        client.log_batch(
            run_id, tags=[RunTag(T.ERROR, lost), RunTag(T.POINTS_NOT_WRITTEN, str(facts["points"] - written))]
        )
        client.set_terminated(run_id, "FAILED")
        journal.remove()
        return written, "FAILED"
    _finish(client, run_id, facts)
    journal.remove()
    return written, facts["status"]


def _finish(client, run_id: str, facts: dict) -> None:
    """The training's own ending replaces "points not written": status, reason, and no badge."""
    client.set_terminated(run_id, facts["status"])
    if facts.get("error"):
        client.set_tag(run_id, T.ERROR, facts["error"])
    elif T.ERROR in client.get_run(run_id).data.tags:
        client.delete_tag(run_id, T.ERROR)
    client.delete_tag(run_id, T.POINTS_NOT_WRITTEN)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainers.recover", description=__doc__.split("\n\n")[0])
    p.add_argument("run_id")
    args = p.parse_args(argv)
    try:
        written, status = recover(args.run_id)
    except NothingToRecover as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - the store still refuses: one line; the journal is kept
        print(f"error: the store refused ({one_line(err)}); the journal is kept, run this again later", file=sys.stderr)
        return 1
    print(f"{written} points written; run {args.run_id} is {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
