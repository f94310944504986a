"""Wireshark's second opinion on a finding card (issue 22): the confirmation badge, its reason and
tshark's version beside it, and on demand the evidence packets as tshark lists them, the claims
checked, and the dissection tree of the fields that matter (Wireshark's field names).

Everything in a row is traffic-derived text, masked when written (contract of
``appliance.store.queries.findings.confirmations``): it goes to data frames and the JSON viewer,
which show text as text, and into Markdown only through ``lit`` (issue 17).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from appliance.store.queries.findings import json_list
from dashboards.i18n import t
from dashboards.pages_.common import lit, table

# outcome (the contract's spellings, and "not checked" for no row) -> label key, badge colour
OUTCOMES = {
    "confirmed": ("wc_confirmed", "green"),
    "not confirmed": ("wc_not_confirmed", "red"),
    "not checkable": ("wc_not_checkable", "orange"),
    "not checked": ("wc_not_checked", "gray"),
}
PACKET_COLUMNS = {"frame": "wc_frame", "time": "wc_time", "src": "wc_src", "dst": "wc_dst",
                  "protocol": "wc_protocol", "length": "wc_length", "info": "wc_info"}  # fmt: skip
CHECK_COLUMNS = {"claim": "wc_claim", "field": "wc_field", "expected": "wc_expected", "seen": "wc_seen",
                 "ok": "wc_ok", "frame": "wc_frame"}  # fmt: skip


def tree_view(nodes: list[Any]) -> dict[str, Any]:
    """Dissection nodes as the JSON viewer's collapsible tree: a leaf is ``name: shown value``, a
    node with children is ``name: shown`` over its children. Repeated names (two Host fields, say)
    keep each occurrence, numbered."""
    out: dict[str, Any] = {}
    for n in nodes:
        if not isinstance(n, dict):
            continue
        name, show, kids = str(n.get("name", "")), str(n.get("show", "")), n.get("children") or []
        key = f"{name}: {show}" if kids and show else name
        value: Any = tree_view(kids) if kids else show
        k, i = key, 2
        while k in out:
            k, i = f"{key} ({i})", i + 1
        out[k] = value
    return out


def counts(shown: list[dict[str, Any]], rows: dict[str, dict[str, Any]]) -> None:
    """How many of the findings shown Wireshark confirmed, did not, could not check, or was not asked
    about: a disagreement is counted, never hidden (issue 22)."""
    got = [str(rows[str(r["finding_id"])]["outcome"]) if str(r["finding_id"]) in rows else "not checked"
           for r in shown]  # fmt: skip
    for col, (outcome, (label, _)) in zip(st.columns(len(OUTCOMES)), OUTCOMES.items(), strict=True):
        col.metric(f"{t('wc_title')}: {t(label)}", got.count(outcome))


def render(r: dict[str, Any], row: dict[str, Any] | None) -> None:
    """The finding's badge, and its packets, checks and tree behind a toggle (built only when on)."""
    outcome = str(row["outcome"]) if row else "not checked"
    known = OUTCOMES.get(outcome)
    c1, c2 = st.columns([1, 3])
    c1.badge(t(known[0]) if known else lit(outcome), color="gray" if known is None else known[1])  # type: ignore[arg-type]
    aside = [t("wc_never")]
    if row:
        aside = [lit(row["reason"])] if row["reason"] else []
        keyed = f" · {t('wc_keyed')}" if int(row["keyed"]) else ""
        aside.append(f"tshark {lit(row['tshark_version'])}{keyed}")
    c2.caption(" · ".join(aside))
    packets, checks, tree = (
        (json_list(row[k]) for k in ("packets", "checks", "tree")) if row else ([], [], [])
    )
    if not (packets or checks or tree):
        return
    key = f"wc_{str(r['capture_id'])[:16]}_{r['finding_id']}"
    if not st.toggle(t("wc_show"), key=key):
        return
    if packets:
        st.markdown(f"**{t('wc_packets')}**")
        st.dataframe(table([p for p in packets if isinstance(p, dict)], PACKET_COLUMNS), hide_index=True)
    if checks:
        st.markdown(f"**{t('wc_checks')}**")
        st.dataframe(table([c for c in checks if isinstance(c, dict)], CHECK_COLUMNS), hide_index=True)
    if tree:
        st.markdown(f"**{t('wc_tree')}**")
        for p in tree:
            if isinstance(p, dict):
                st.json(
                    {f"{t('wc_frame')} {p.get('frame', '?')}": tree_view(p.get("fields") or [])}, expanded=2
                )
