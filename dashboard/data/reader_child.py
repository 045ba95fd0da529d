"""The reader process (see ``reader_process``): runs a query on a SQLite file with ADBC's driver,
once per row of bound parameters, and answers with the results as Arrow columns.

Run as a plain script (``python reader_child.py``), no Runboard imports: it starts in ~0.5 s.
Protocol on stdin/stdout: it writes ``R`` once ready; then per request line (JSON: ``path``,
``sql`` with ``?`` parameters, ``params`` — one list per parameter, all the same length,
``schema`` — [[column, "int64"|"float64"], ...]) it answers with an 8-byte little-endian length
and that many bytes: ``A`` + an Arrow IPC stream of the results of each parameter row in turn, or
``E`` + an error text. It exits when stdin closes.
"""

from __future__ import annotations

import json
import os
import struct
import sys


def serve(adbc, pa, request: dict) -> memoryview:
    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in request["schema"]])
    params = pa.record_batch([pa.array(col) for col in request["params"]],
                             names=[f"p{i}" for i in range(len(request["params"]))])
    if not os.path.isfile(request["path"]):  # connect() would create an empty database
        raise FileNotFoundError(request["path"])
    conn = adbc.connect(request["path"])  # a fresh connection: nothing is held between views
    try:
        cur = conn.cursor()
        cur.execute("PRAGMA query_only=1")
        cur.execute("PRAGMA busy_timeout=30000")
        # Several parameter rows bound at once: the driver runs the query per row and streams
        # the results one after another (0.15 s for 400 curves, 0.19 s with an execute each).
        cur.execute(request["sql"], params)
        table = cur.fetch_arrow_table()
        cur.close()
    finally:
        conn.close()
    # With no rows the column types are guesses (int64); with rows they are SQLite's own.
    table = table.rename_columns(schema.names).cast(schema) if table.num_rows else schema.empty_table()
    sink = pa.BufferOutputStream()
    sink.write(b"A")
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return memoryview(sink.getvalue())


def main() -> None:
    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow as pa

    out = sys.stdout.buffer
    out.write(b"R")
    out.flush()
    for line in sys.stdin.buffer:
        try:
            answer = serve(adbc, pa, json.loads(line))
        except Exception as exc:  # noqa: BLE001 - any failure is reported; the caller reads in-process
            answer = memoryview(b"E" + f"{type(exc).__name__}: {exc}".encode())
        out.write(struct.pack("<q", answer.nbytes))
        out.write(answer)
        out.flush()
        del answer
        pa.default_memory_pool().release_unused()  # hand a big view's buffers back to the system


if __name__ == "__main__":
    main()
