"""The reader process (see ``reader_process``): runs a query on a SQLite file with ADBC's driver,
once per row of bound parameters, and answers with the results as Arrow columns.

Run as a plain script (``python reader_child.py``), no Runboard imports: it starts in ~0.5 s.
It holds ~55 MB RSS, ~74 MB after a 100-run view (was ~128; ~85 untrimmed): ADBC's low-level API, not its DB-API
module (which imports ``pyarrow.dataset``), and no pandas (pyarrow imports it, when installed, on
its first array built from Python values; nothing here needs it).
Protocol on stdin/stdout: it writes ``R`` once ready; then per request line (JSON: ``path``,
``sql`` with ``?`` parameters, ``params`` — one list per parameter, all the same length,
``schema`` — [[column, "int64"|"float64"], ...]) it answers with an 8-byte little-endian length
and that many bytes: ``A`` + an Arrow IPC stream of the results of each parameter row in turn, or
``E`` + an error text. It exits when stdin closes.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import sys


class _NoPandas:
    """An import finder that answers "not installed" for pandas (see module doc)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError(f"{name} is not used in the reader process")
        return None


def _query(adbc, sqlite, pa, path: str, sql: str, params):
    """All rows of ``sql`` for each bound row of ``params``, in one read transaction."""
    db = sqlite.connect(path)  # a fresh connection: nothing is held between views
    try:
        conn = adbc.AdbcConnection(db)
        try:
            conn.set_options(**{"adbc.connection.autocommit": "false"})  # one snapshot for the view
            stmt = adbc.AdbcStatement(conn)
            try:
                for pragma in ("PRAGMA query_only=1", "PRAGMA busy_timeout=30000"):
                    stmt.set_sql_query(pragma)
                    stmt.execute_update()
                # Several parameter rows bound at once: the driver runs the query per row and
                # streams the results one after another (0.15 s for 400 curves, 0.19 s one by one).
                stmt.set_sql_query(sql)
                stmt.bind(params)
                stream, _ = stmt.execute_query()
                return pa.RecordBatchReader._import_from_c(stream.address).read_all()
            finally:
                stmt.close()
        finally:
            conn.rollback()
            conn.close()
    finally:
        db.close()


def serve(adbc, sqlite, pa, request: dict) -> memoryview:
    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in request["schema"]])
    params = pa.record_batch([pa.array(col) for col in request["params"]],
                             names=[f"p{i}" for i in range(len(request["params"]))])
    if not os.path.isfile(request["path"]):  # connect() would create an empty database
        raise FileNotFoundError(request["path"])
    table = _query(adbc, sqlite, pa, request["path"], request["sql"], params)
    # With no rows the column types are guesses (int64); with rows they are SQLite's own.
    table = table.rename_columns(schema.names).cast(schema) if table.num_rows else schema.empty_table()
    sink = pa.BufferOutputStream()
    sink.write(b"A")
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return memoryview(sink.getvalue())


def main() -> None:
    sys.meta_path.insert(0, _NoPandas)
    import adbc_driver_manager as adbc
    import adbc_driver_sqlite as sqlite
    import pyarrow as pa

    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    out = sys.stdout.buffer
    out.write(b"R")
    out.flush()
    for line in sys.stdin.buffer:
        try:
            answer = serve(adbc, sqlite, pa, json.loads(line))
        except Exception as exc:  # noqa: BLE001 - any failure is reported; the caller reads in-process
            answer = memoryview(b"E" + f"{type(exc).__name__}: {exc}".encode())
        out.write(struct.pack("<q", answer.nbytes))
        out.write(answer)
        out.flush()
        del answer
        pa.default_memory_pool().release_unused()  # hand a big view's buffers back to the system
        if trim is not None:  # and glibc's: SQLite's pages and the request's objects (~10 MB of ~85)
            trim(0)


if __name__ == "__main__":
    main()
