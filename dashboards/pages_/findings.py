"""Findings grouped by problem (issue 18, point 1): one card per device and fact, listing every pack
and clause that rules on it, so the count shown is the count of distinct problems; filter by
severity, rule, device, pack and problem; statement, figures, masked evidence excerpts; per finding,
Wireshark's check of it (``confirm``); per problem, its evidence capture and its device's report to
download (built on demand)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboards import data, downloads, links
from dashboards.i18n import excerpt, figures, lang, level, subject, t
from dashboards.pages_ import confirm, verdict
from dashboards.pages_.common import device_label, lit, show, table, ts
from policies.verdicts import SEVERITIES

CARDS = 25  # problem cards per page


def render(url: str, caps: data.Caps) -> None:
    st.header(t("findings"))
    rows = data.problems(url, caps)
    if not rows:
        st.info(t("no_findings"))
        return
    names = {d["mac"]: device_label(d) for d in data.devices(url, caps)}
    c1, c2, c3, c4, c5 = st.columns(5)
    sev = c1.multiselect(t("severity"), [s for s in SEVERITIES if any(r["severity"] == s for r in rows)],
                         format_func=level, key="f_sev", placeholder=t("choose"))  # fmt: skip
    rule = c2.multiselect(t("rule"), sorted({x for r in rows for x in r["rule_ids"]}), key="f_rule",
                          placeholder=t("choose"))  # fmt: skip
    dev = c3.multiselect(t("device"), sorted({str(r["device_mac"]) for r in rows}), key="f_dev",
                         format_func=lambda m: names.get(m, m), placeholder=t("choose"))  # fmt: skip
    pack = c4.multiselect(t("pack"), sorted({x for r in rows for x in r["packs"]}), key="f_pack",
                          placeholder=t("choose"))  # fmt: skip
    fact = c5.multiselect(t("problem"), sorted({str(r["fact"]) for r in rows}), format_func=_fact_label,
                          key="f_fact", placeholder=t("choose"))  # fmt: skip
    shown = [
        r
        for r in rows
        if (not sev or r["severity"] in sev)
        and (not rule or set(r["rule_ids"]) & set(rule))
        and (not dev or r["device_mac"] in dev)
        and (not pack or set(r["packs"]) & set(pack))
        and (not fact or r["fact"] in fact)
    ]
    m1, m2 = st.columns(2)
    m1.metric(t("problems_total"), len(shown))  # distinct (device, fact): what a user counts
    m2.metric(t("findings_clauses"), sum(len(r["findings"]) for r in shown))
    zh = lang() == "zh"
    for r in shown:
        r["device"] = names.get(str(r["device_mac"]), str(r["device_mac"]))
        r["text"] = r["statement_zh"] if zh and r["statement_zh"] else r["statement"]  # as the CLI says it
        r["first"] = ts(int(r["first_ns"]))
        r["level"] = level(str(r["severity"]))
        r["problem"] = f"{verdict.check_label(str(r['check']))}: {subject(r['subject'])}"
        r["rules"] = ", ".join(r["rule_ids"])
        r["reqs"] = ", ".join(r["requirements"])
        # the member a rule filter asked for, else the worst: its link opens this card at it
        first = next((f for f in r["findings"] if f["rule_id"] in rule), r["findings"][0])
        r["device_link"] = links.href("device", device=str(r["device_mac"]))
        r["evidence_link"] = links.href("findings", device=str(r["device_mac"]), rule=str(first["rule_id"]),
                                        finding=str(first["finding_id"]))  # fmt: skip
    cols = {"evidence_link": "evidence_link", "level": "severity", "problem": "problem", "rules": "rules",
            "reqs": "requirements_short", "device_link": "device_link", "device": "device",
            "text": "statement", "first": "first_seen"}  # fmt: skip
    config = {t("device_link"): links.link_column(t("device_link"), "device"),
              t("evidence_link"): links.link_column(t("evidence_link"), "rule")}  # fmt: skip
    show(table(shown, cols), "findings_table", config=config)
    opened = links.opened_finding()  # a link to a finding opens its problem's card
    checked = data.confirmations(url, caps)
    confirm.counts([f for r in shown for f in r["findings"]], checked)
    for r in _page_of(shown):
        _card(url, r, checked, opened)


def _fact_label(fact: str) -> str:
    check, _, what = fact.partition(":")
    return f"{verdict.check_label(check)}: {subject(what)}" if what else verdict.check_label(check)


def _page_of(shown: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cards of the chosen page (``CARDS`` each): a page of many problems stays fast."""
    pages = max(1, -(-len(shown) // CARDS))
    n = 1
    if pages > 1:
        n = int(st.number_input(t("page_of"), min_value=1, max_value=pages, value=1, step=1, key="f_cards"))
    first = (n - 1) * CARDS
    part = shown[first : first + CARDS]
    if pages > 1:
        st.caption(t("cards_shown").format(first=first + 1, last=first + len(part), n=len(shown)))
    return part


def _card(url: str, r: dict[str, Any], checked: dict[str, dict[str, Any]], opened: str | None = None) -> None:
    """One problem: its sentence and figures, every pack (its id in capitals, as the rule ids read:
    COPPA, CN-PI-2025) and clause that rules on it with each
    finding's statement and Wireshark's check, the masked excerpts, and the evidence downloads."""
    what = f" · {lit(subject(r['subject']))}" if r["subject"] else ""
    label = f"[{r['level']}] {verdict.check_label(str(r['check']))}{what} · {lit(r['device'])}"
    mine = any(str(f["finding_id"]) == opened for f in r["findings"])
    with st.expander(label, expanded=mine):  # a name from DHCP, a host from traffic: literal
        st.markdown(f"**{t('statement')}:** {lit(r['text'])}")  # statements quote hosts and paths
        st.markdown(f"**{t('figures')}:**")
        raw = r["figures"] if isinstance(r["figures"], str) else json.dumps(r["figures"])
        st.json(figures(raw or "{}"), expanded=False)
        st.markdown(f"**{t('clauses_title')}:** {lit(r['reqs'])}")
        zh = lang() == "zh"
        for f in r["findings"]:
            text = f["statement_zh"] if zh and f["statement_zh"] else f["statement"]
            st.markdown(
                f"- **[{level(str(f['severity']))}] {lit(f['rule_id'])}** ({lit(str(f['pack']).upper())} "
                f"{lit(f['pack_version'])}, {lit(', '.join(f['requirements']))}): {lit(text)}"
            )
            confirm.render(f, checked.get(str(f["finding_id"])))
        if r["excerpts"]:
            st.markdown(f"**{t('excerpts')}:**")
            st.code("\n".join(excerpt(str(e)) for e in r["excerpts"]), language=None)
        _downloads(url, r["findings"][0])


def download_key(kind: str, r: dict[str, Any]) -> str:
    """Session-state key of a finding's prepared download ('pcap' or 'report'); its button's key
    is this with a ``_go`` suffix."""
    return f"dl_{kind}_{str(r['capture_id'])[:16]}_{r['finding_id']}"


def _downloads(url: str, r: dict[str, Any]) -> None:
    """The finding's evidence capture and its device's report, built only when asked for (a
    click on "prepare"): a page of many findings stays fast. The built file stays in the session."""
    c1, c2 = st.columns(2)
    builders: dict[str, Callable[[], downloads.Download]] = {
        "pcap": lambda: data.evidence(url, str(r["finding_id"])),
        "report": lambda: data.report(url, str(r["device_mac"]), str(r["capture_id"])),
    }
    for col, (kind, build) in zip((c1, c2), builders.items(), strict=True):
        key = download_key(kind, r)
        if col.button(t(f"prepare_{kind}"), key=f"{key}_go"):
            try:
                st.session_state[key] = build()
            except downloads.DownloadError as exc:
                st.session_state[key] = str(exc)
        got = st.session_state.get(key)
        if isinstance(got, str):
            col.warning(lit(got))
        elif isinstance(got, downloads.Download):
            col.download_button(t(f"download_{kind}"), got.data, file_name=got.file_name, mime=got.mime,
                                key=f"{key}_dl", on_click="ignore")  # fmt: skip
            if kind == "pcap":
                col.caption(f"{lit(got.file_name)} · {got.packets:,} {t('packets').lower()}")
            else:
                col.caption(f"{lit(got.file_name)} · {t('masked_report')}")
