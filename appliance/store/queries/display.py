"""Display masking, done once in the read API for every reader (CLI, dashboard, report).

Values that may identify a person are masked before they are stored, unless a capture was
replayed with ``--raw-evidence``. Readers get values masked either way: the rows of raw
captures are masked here, on the way out (``appliance.masking`` is idempotent, so what was
stored masked reads the same). ``reveal=True`` returns values as stored, and is refused (a
``RevealError``) when any row comes from a capture that was stored masked: revealing those
would show masks that look like values. Revealing takes the store's masking key as well
(``Store.require_key``): the data folder alone shows masked values, and no more (issue 17).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from appliance.store.backends import Store, StoreError
from appliance.store.queries.scope import CURRENT, Rows


class RevealError(StoreError):
    """Values were asked for as sent, but some were stored masked."""


def raw_evidence_captures(store: Store) -> set[str]:
    """Captures whose current run stored values as sent."""
    rows = store.query(
        f"SELECT capture_id FROM {{db}}.captures WHERE ingest_id IN ({CURRENT}) AND raw_evidence = 1"
    )
    return {r["capture_id"] for r in rows}


def shown(
    store: Store, rows: Rows, reveal: bool, capture: str | None, mask_row: Callable[[dict[str, Any]], None]
) -> Rows:
    """``rows`` as a reader may see them: ``mask_row`` applied to each row of a raw capture (its
    capture id in column ``capture``; with None, rows span captures and every row is masked when
    any capture is raw), or, with ``reveal``, the rows as stored if every capture kept raw values."""
    raw = raw_evidence_captures(store)
    if reveal:
        store.require_key("reveal values")
        masked = sorted({str(r[capture])[:16] for r in rows if r[capture] not in raw}) if capture else []
        if masked:
            raise RevealError(
                f"capture(s) {', '.join(masked)} were stored masked; "
                "replay them with --raw-evidence to keep values as sent"
            )
        return rows
    for r in rows:
        if (capture is None and raw) or (capture is not None and r[capture] in raw):
            mask_row(r)
    return rows
