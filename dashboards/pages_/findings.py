"""Findings: filter by severity, rule, device and pack; statement, figures, masked evidence excerpts;
per finding, Wireshark's check of it (``confirm``), its evidence capture and its device's report to
download (built on demand)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboards import data, downloads, links
from dashboards.i18n import excerpt, figures, lang, level, t
from dashboards.pages_ import confirm
from dashboards.pages_.common import device_label, lit, table, ts
from policies.verdicts import SEVERITIES


def render(url: str, caps: data.Caps) -> None:
    st.header(t("findings"))
    rows = data.findings(url, caps)
    if not rows:
        st.info(t("no_findings"))
        return
    names = {d["mac"]: device_label(d) for d in data.devices(url, caps)}
    c1, c2, c3, c4 = st.columns(4)
    sev = c1.multiselect(t("severity"), [s for s in SEVERITIES if any(r["severity"] == s for r in rows)],
                         format_func=level, key="f_sev", placeholder=t("choose"))  # fmt: skip
    rule = c2.multiselect(
        t("rule"), sorted({str(r["rule_id"]) for r in rows}), key="f_rule", placeholder=t("choose")
    )
    macs = sorted({str(r["device_mac"]) for r in rows})
    dev = c3.multiselect(t("device"), macs, format_func=lambda m: names.get(m, m), key="f_dev",
                         placeholder=t("choose"))  # fmt: skip
    pack = c4.multiselect(
        t("pack"), sorted({str(r["pack"]) for r in rows}), key="f_pack", placeholder=t("choose")
    )
    shown = [
        r
        for r in rows
        if (not sev or r["severity"] in sev)
        and (not rule or r["rule_id"] in rule)
        and (not dev or r["device_mac"] in dev)
        and (not pack or r["pack"] in pack)
    ]
    st.metric(t("findings_total"), len(shown))
    zh = lang() == "zh"
    for r in shown:
        r["device"] = names.get(str(r["device_mac"]), str(r["device_mac"]))
        r["text"] = r["statement_zh"] if zh and r["statement_zh"] else r["statement"]
        r["first"] = ts(int(r["first_ns"]))
        r["level"] = level(str(r["severity"]))
        r["device_link"] = links.href("device", device=str(r["device_mac"]))
        r["evidence_link"] = links.href("findings", device=str(r["device_mac"]), rule=str(r["rule_id"]),
                                        finding=str(r["finding_id"]))  # fmt: skip
    cols = {"evidence_link": "evidence_link", "level": "severity", "rule_id": "rule", "pack": "pack",
            "device_link": "device_link", "device": "device", "text": "statement",
            "first": "first_seen"}  # fmt: skip
    config = {t("device_link"): links.link_column(t("device_link"), "device"),
              t("evidence_link"): links.link_column(t("evidence_link"), "rule")}  # fmt: skip
    st.dataframe(table(shown, cols), hide_index=True, key="findings_table", column_config=config)
    opened = links.opened_finding()  # a link to a finding opens its card
    checked = data.confirmations(url, caps)
    confirm.counts(shown, checked)
    for r in shown[:50]:
        label = f"[{r['level']}] {r['rule_id']} · {lit(r['device'])}"  # a name from DHCP, say
        with st.expander(label, expanded=opened == str(r["finding_id"])):
            st.markdown(f"**{t('statement')}:** {lit(r['text'])}")  # statements quote hosts and paths
            st.markdown(f"**{t('figures')}:**")
            st.json(figures(str(r["figures"]) or "{}"))
            if r["excerpts"]:
                st.markdown(f"**{t('excerpts')}:**")
                st.code("\n".join(excerpt(str(e)) for e in r["excerpts"]), language=None)
            st.markdown(f"**{t('wc_title')}:**")
            confirm.render(r, checked.get(str(r["finding_id"])))
            _downloads(url, r)


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
