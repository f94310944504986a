"""Which rows are current: the scoping every read shares.

Readers see only each capture's newest committed ingestion run (see ``appliance.store.schema``),
and of findings only each capture's newest assessment over that run.
"""

from __future__ import annotations

from typing import Any

Rows = list[dict[str, Any]]


# The committed ingestion run of each capture: the newest ``captures`` row. Rows of
# superseded or unfinished runs stay invisible (see appliance.store.schema).
# A live capture session is current from its first row on (status 'live'; appliance.live.session).
COMMITTED = "status IN ('complete', 'live')"


CURRENT = f"SELECT max(ingest_id) FROM {{db}}.captures WHERE {COMMITTED} GROUP BY capture_id"


def capture_rows(where: str) -> str:
    """The ``captures`` rows of ``where``, one per capture: a live session writes a row as it goes
    (its totals so far) and a last one when it stops; the newest, else the complete one, counts."""
    return (
        f"(SELECT * FROM {{db}}.captures WHERE {where}"
        " ORDER BY capture_id, status = 'complete' DESC, last_ns DESC, packets DESC LIMIT 1 BY capture_id)"
    )


def scope(capture_ids: list[str] | None, device: str | None = None) -> tuple[str, dict[str, Any]]:
    """WHERE clause selecting the current rows of all captures, or of the given ones (and one device's)."""
    if capture_ids:
        where = (
            f"ingest_id IN (SELECT max(ingest_id) FROM {{db}}.captures WHERE {COMMITTED}"
            " AND has(%(caps)s, capture_id) GROUP BY capture_id)"
        )
        params: dict[str, Any] = {"caps": capture_ids}
    else:
        where, params = f"ingest_id IN ({CURRENT})", {}
    if device:
        where += " AND device_mac = %(dev)s"
        params["dev"] = device
    return where, params


def joined(table: str, where: str, capture_ids: list[str] | None) -> str:
    """WHERE clause for the flows side of a join from ``table``'s rows selected by ``where``: only
    the flows those rows refer to, so the join's hash table holds them and not every flow."""
    fwhere, _ = scope(capture_ids)
    return f"{fwhere} AND flow_id IN (SELECT flow_id FROM {{db}}.{table} WHERE {where})"


# The current assessment of each capture: its newest, over the capture's current ingestion.
CURRENT_FINDINGS = (
    "SELECT max(assess_id) FROM {db}.findings WHERE ingest_id IN (" + CURRENT + ") GROUP BY capture_id"
)
