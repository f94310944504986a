"""``tapaudit delete``: a stored capture removed from the store's files, not only from its views.

A lab deletes a capture when it may no longer keep what a device sent (a withdrawn consent, a
mistaken recording); the dashboard's Captures page does the same through ``Store.drop_capture``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

import typer

from appliance.cli.common import DbOpt, Fail, JsonOpt, open_db, out, print_json
from appliance.store.spool import discard

_HEX = re.compile(r"[0-9a-f]{8,64}")
RUNS = "SELECT DISTINCT ingest_id FROM {db}.captures WHERE capture_id = %(c)s"


def delete_cmd(
    capture: Annotated[
        str,
        typer.Argument(
            help="The capture's sha256, or its first 8 hex digits or more (as `tapaudit captures` lists it).",
            show_default=False,
        ),
    ],
    db: DbOpt = None,
    spool: Annotated[
        str,
        typer.Option("--spool", help="The live capture's spool folder: its batches there go too."),
    ] = "./spool",
    as_json: JsonOpt = False,
) -> None:
    """Delete a stored capture: every row of it, all its runs, rewritten out of the store's files,
    and its batches still waiting in the spool folder."""
    prefix = capture.strip().lower()
    if not _HEX.fullmatch(prefix):
        raise Fail(f"{capture!r} is not a capture's sha256 or its first 8 hex digits or more")
    with open_db(db) as store:
        sql = "SELECT DISTINCT capture_id FROM {db}.captures WHERE startsWith(capture_id, %(p)s) ORDER BY 1"
        ids = [str(r["capture_id"]) for r in store.query(sql, {"p": prefix})]
        if not ids:
            raise Fail(f"no stored capture {prefix} (tapaudit captures lists them)")
        if len(ids) > 1:
            raise Fail(f"{prefix} names {len(ids)} captures; give more of the sha256")
        runs = [int(r["ingest_id"]) for r in store.query(RUNS, {"c": ids[0]})]
        rows = store.drop_capture(ids[0])
    try:
        files = discard(spool, ids[0], runs)
    except OSError as exc:
        raise Fail(f"--spool {spool}: {exc.strerror}") from None
    if as_json:
        print_json({"capture_id": ids[0], "rows": rows, "spool_files": files})
    else:
        spooled = f" and {files:,} spooled batch files" if files else ""
        out.print(f"Deleted capture {ids[0][:16]}: {rows:,} rows removed from the store's files{spooled}.")


COMMANDS: dict[str, Callable[..., None]] = {"delete": delete_cmd}
