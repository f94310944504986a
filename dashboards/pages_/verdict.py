"""What is wrong with a device, in ten seconds (issue 18, point 1): its identity and one plain
sentence per kind of problem with its figures, severity, requirements and clauses, and a way to
its evidence; the Overview's device cards. Shared by the Device and Overview pages.

A problem is a fact (``policies.model.fact_key``: one check on one subject), read grouped from the
store (``queries.problems``). The device page gives one line per check, the facts of that check
together (the child watch's clear text to five hosts is one line naming five problems), so its
verdict fits the first screen; the counts are always of facts.

Traffic text (statements quote hosts and paths, names come from DHCP) goes into ``st.html`` only
HTML-escaped, so it shows as text and never as markup (issue 17).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

import streamlit as st

from dashboards.i18n import LABELS, lang, level, subject, t
from policies.verdicts import COLORS, rank

CELL = "padding:1px 4px;vertical-align:top"
# a sentence shows on two lines at most (the whole of it on hover and on the Findings page): ten kinds
# of problem fit the first screen of a 1280x800 window
CLAMP = "display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden"
FINDINGS_PAGE, DEVICE_PAGE = "findings", "device"  # the sidebar's Page radio (key "page") values


def check_label(check: str) -> str:
    """A check's name for people, in the chosen language ("Clear text" for ``cleartext``)."""
    key = f"check_{check}"
    return t(key) if key in LABELS else t("check_finding")


def by_device(problems: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Problems by device MAC, each device's worst first (as ``queries.problems`` orders them)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for p in problems:
        out.setdefault(str(p["device_mac"]), []).append(p)
    return out


def kinds(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One device's problems by check, the worst kind first: ``check``, ``severity`` (worst),
    ``facts`` (its problems, worst first), ``requirements`` and ``rule_ids`` (unions)."""
    by: dict[str, list[dict[str, Any]]] = {}
    for p in problems:
        by.setdefault(str(p["check"]), []).append(p)
    out: list[dict[str, Any]] = []
    for check, members in by.items():
        facts = sorted(members, key=lambda p: rank(str(p["severity"])))
        out.append(
            {
                "check": check,
                "severity": str(facts[0]["severity"]),
                "facts": facts,
                "requirements": sorted({q for p in facts for q in p["requirements"]}),
                "rule_ids": sorted({r for p in facts for r in p["rule_ids"]}),
            }
        )
    out.sort(key=lambda k: (rank(k["severity"]), -len(k["facts"]), k["check"]))
    return out


def sentence(problem: dict[str, Any]) -> str:
    """A problem's statement, with its figures, in the chosen language, as a sentence."""
    text = str(
        problem["statement_zh"] if lang() == "zh" and problem["statement_zh"] else problem["statement"]
    )
    first = text.split(" ", 1)[0]
    if "." in first or "/" in first or ":" in first:  # a host or path leads: as written
        return text
    return text[:1].upper() + text[1:]


def kind_sentence(kind: dict[str, Any]) -> str:
    """The worst problem's sentence, and the subjects of the others of its kind."""
    facts = kind["facts"]
    text = sentence(facts[0])
    if len(facts) > 1:
        rest = [subject(p["subject"] or p["fact"]) for p in facts[1:]]
        text += "; " + t("more_subjects").format(n=len(rest), which=", ".join(rest))
    return text


def badge(severity: str) -> str:
    """A severity as a coloured HTML badge (the severity chart's colours)."""
    color = COLORS.get(severity, "#888")
    dark = rank(severity) <= rank("high")
    return (
        f'<span style="background:{color};color:{"#fff" if dark else "#000"};border-radius:4px;'
        f'padding:0 6px;font-weight:600;white-space:nowrap">{html.escape(level(severity))}</span>'
    )


def identity(dev: dict[str, Any]) -> None:
    """Name, vendor, model, firmware, MAC and addresses on one line."""
    e = html.escape
    parts = [f"<b style='font-size:1.15rem'>{e(str(dev['name'] or dev['oui_vendor'] or dev['mac']))}</b>"]
    vendor = str(dev["vendor"] or dev["oui_vendor"] or "")
    for label, value in (("identity_vendor", vendor), ("identity_model", dev.get("model")),
                         ("identity_firmware", dev.get("firmware"))):  # fmt: skip
        if value:
            parts.append(f"{e(t(label))} {e(str(value))}")
    parts.append(f"MAC <code>{e(str(dev['mac']))}</code>")
    ips = [*dev.get("ipv4", []), *dev.get("ipv6", [])]
    if ips:
        parts.append(f"{e(t('identity_ip'))} " + ", ".join(f"<code>{e(str(a))}</code>" for a in ips[:3]))
    st.html(f"<div data-testid='device-identity'>{' · '.join(parts)}</div>")


def verdict(mac: str, problems: list[dict[str, Any]]) -> None:
    """The device's verdict: its worst severity and number of problems, then one line per kind of
    problem (severity, plain sentence, requirements, clauses), numbered; the numbers open the
    problem's findings with their evidence."""
    if not problems:
        st.html(f"<div data-testid='device-verdict'><b>{html.escape(t('verdict_clean'))}</b></div>")
        return
    worst = str(problems[0]["severity"])
    groups = kinds(problems)
    e = html.escape
    head = e(t("verdict_line").format(n=len(problems)))
    rows = []
    for i, k in enumerate(groups, 1):
        n = len(k["facts"])
        what = e(check_label(k["check"])) + (f" ({e(t('n_of_kind').format(n=n))})" if n > 1 else "")
        reqs, rules = e(", ".join(k["requirements"])), e(", ".join(k["rule_ids"]))
        text = e(kind_sentence(k))
        rows.append(
            f"<tr><td style='{CELL}'><b>{i}</b></td><td style='{CELL}'>{badge(k['severity'])}</td>"
            f"<td style='{CELL}'><div title=\"{text}\" style='{CLAMP}'><b>{what}</b>: {text}</div></td>"
            f"<td style='{CELL};white-space:nowrap'>{reqs}<br><small style='opacity:.7'>{rules}</small>"
            "</td></tr>"
        )
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.html(
            f"<div data-testid='device-verdict-head' style='white-space:nowrap'>{e(t('verdict_title'))}: "
            f"{badge(worst)} <b>{head}</b> · {e(t('evidence_of'))}:</div>",
            width="content",
        )
        st.pills(
            t("evidence_of"),
            [str(i) for i in range(1, len(groups) + 1)],
            key=f"verdict_evidence_{mac}",
            help=t("evidence_hint"),
            label_visibility="collapsed",
            on_change=_to_evidence,
            args=(mac, [[str(p["fact"]) for p in k["facts"]] for k in groups]),
        )
    st.html(
        f"<div data-testid='device-verdict' style='font-size:.88rem;line-height:1.25'>"
        f"<table style='border-collapse:collapse;width:100%'>{''.join(rows)}</table></div>"
    )


def _to_evidence(mac: str, facts_by_line: list[list[str]]) -> None:
    """The Findings page, filtered to this device and the chosen line's problems."""
    key = f"verdict_evidence_{mac}"
    chosen = st.session_state.get(key)
    st.session_state[key] = None
    if not chosen:
        return
    open_findings(mac, facts_by_line[int(chosen) - 1])


def open_findings(mac: str, facts: list[str]) -> None:
    """Switch to the Findings page showing one device's problems (a widget callback)."""
    for k in ("f_sev", "f_rule", "f_pack"):
        st.session_state[k] = []
    st.session_state["f_dev"] = [mac]
    st.session_state["f_fact"] = list(facts)
    st.session_state["page"] = FINDINGS_PAGE


def open_device(mac: str) -> None:
    """Switch to the Device page with this device chosen (a widget callback)."""
    st.session_state["device_pick"] = mac
    st.session_state["page"] = DEVICE_PAGE
