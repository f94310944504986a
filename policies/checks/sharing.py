"""Checks on where personal data goes and how: identifiers to third parties (TR-10), clear
text and old TLS (TR-11), abroad (TR-12).
"""

from __future__ import annotations

from policies.checks.common import (
    CHILD_CATEGORIES,
    CLEAR,
    ID_TYPES,
    LOCATION_TYPES,
    OLD_TLS,
    _finding,
    abroad,
    by,
    by_destination_with_bare_flows,
    consent_ns,
    dest,
    flow_index,
    is_precise,
    is_sensitive,
    matches,
    messages,
    names,
    param,
    protocol,
    unique_obs,
    upload_rows,
    worst,
)
from policies.declaration import Declaration
from policies.model import Facts, Finding, Rule
from policies.wording import (
    Row,
    base_type,
    hashed,
    kind_en,
    kind_zh,
    location_note,
    org_of,
    org_of_zh,
    plural,
    size,
    times_en,
    types_zh,
    what_sent,
)


def identifiers_to_third_party(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-10: unchangeable identifiers (``id_types``, as matched or as a persona value, and any hashed
    persona value) sent to a third party, or to anyone before the declared consent."""
    id_types = names(rule, "id_types", ID_TYPES)
    consent = consent_ns(facts, decl.consent) if decl else None
    third: list[Row] = []
    early: list[Row] = []
    for o in unique_obs(facts):
        t = str(o["data_type"])
        if not rule.looks_at(str(o["phase"])):
            continue
        if not (base_type(t) in id_types or (t.startswith("persona:") and hashed(o))):
            continue
        if o.get("party") == "third":
            third.append(o)
        elif consent is not None and int(o["ts_ns"]) < consent:
            early.append(o)
    out = []
    for where, obs in by(third, dest).items():
        what_en, what_zh, kinds = what_sent(obs)
        kind = str(obs[0].get("service_kind") or "")
        out.append(
            _finding(
                rule,
                facts,
                f"device identifiers ({what_en}) sent {times_en(messages(obs))} to {where}, a third-party"
                f" {kind_en(kind)} of {org_of(obs)}",
                f"向第三方{org_of_zh(obs)}的{kind_zh(kind)}（{where}）"
                f"发送了 {messages(obs)} 次设备标识（{what_zh}）",
                {
                    "subject": where,
                    "destination": where,
                    "organisation": obs[0].get("organisation", ""),
                    "service_kind": kind,
                    "party": "third",
                    "types": kinds,
                    "messages": messages(obs),
                    "values": len(obs),
                },
                obs=obs,
            )
        )
    for where, obs in by(early, dest).items():
        what_en, what_zh, kinds = what_sent(obs)
        out.append(
            _finding(
                rule,
                facts,
                f"device identifiers ({what_en}) sent to {where} {times_en(messages(obs))} before consent",
                f"在用户同意之前向 {where} 发送了 {messages(obs)} 次设备标识（{what_zh}）",
                {
                    "subject": f"before consent:{where}",
                    "destination": where,
                    "types": kinds,
                    "messages": messages(obs),
                    "values": len(obs),
                    "party": obs[0].get("party", ""),
                },
                obs=obs,
            )
        )
    return out


def cleartext(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-11: personal data readable on the wire (flow security none or unknown) or over TLS < 1.2.
    Sensitive PI (``sensitive_types``; location when precise; all data of a child device) is raised
    to ``sensitive_severity`` (fail). ``only``: all, sensitive or other PI; old-TLS flows without
    readable PI are reported at ``old_tls_severity`` (low; "" to skip)."""
    only = str(param(rule, "only", "all"))
    sens_sev = str(param(rule, "sensitive_severity", "fail"))
    flows = flow_index(facts)
    clear: list[Row] = []
    old: list[Row] = []
    for o in unique_obs(facts):
        if not rule.looks_at(str(o["phase"])):
            continue
        sec = str(o.get("security") or "")
        if sec in OLD_TLS:
            old.append(o)
        elif sec in CLEAR:
            sensitive = is_sensitive(o, rule, facts.category)
            if only == "all" or (only == "sensitive") == sensitive:
                clear.append(o)
    out = []
    for where, obs in by(clear, dest).items():
        sens = [o for o in obs if is_sensitive(o, rule, facts.category)]
        what_en, what_zh, kinds = what_sent(obs)
        loc_en, loc_zh, figs = location_note(obs)
        if loc_en:
            what_en = what_en.replace("location", "location" + loc_en, 1)
            what_zh = what_zh.replace("位置信息", "位置信息" + loc_zh, 1)
        protos = sorted({protocol(flows.get(int(o["flow_id"])), o) for o in obs})
        msgs = len({(int(o["flow_id"]), int(o["ts_ns"])) for o in obs})
        sev = sens_sev if sens else rule.severity
        child = facts.category in names(rule, "child_categories", CHILD_CATEGORIES)
        if sens and len(sens) == len(obs):
            sens_en = ", all sensitive" + (" as a child's data" if child else "")
            sens_zh = "，作为儿童个人信息均属敏感个人信息" if child else "，均为敏感个人信息"
        else:
            sens_en = f", {len(sens)} of them sensitive" if sens else ""
            sens_zh = f"，其中敏感个人信息 {len(sens)} 项" if sens else ""
        out.append(
            _finding(
                rule,
                facts,
                f"{what_en} sent in clear text over {'/'.join(protos)} to {where}"
                f" ({plural(len(obs), 'value')} in {plural(msgs, 'message')}{sens_en})",
                f"通过 {'/'.join(protos)} 明文向 {where} 发送{what_zh}，"
                f"{msgs} 条消息中共 {len(obs)} 项{sens_zh}",
                {
                    "subject": where,
                    "destination": where,
                    "protocols": protos,
                    "types": kinds,
                    "values": len(obs),
                    "messages": msgs,
                    "sensitive_values": len(sens),
                    "sensitive_types": sorted({base_type(str(o["data_type"])) for o in sens}),
                    **figs,
                },
                obs=obs,
                severity=sev,
            )
        )
    old_sev = str(param(rule, "old_tls_severity", "low"))
    bare = [
        f
        for f in facts.flows
        if str(f.get("security") or "") in OLD_TLS
        and f.get("direction", "outbound") != "local"
        and rule.looks_at(str(f.get("phase", "")))
    ]
    for where, (rows, o_rows, f_rows) in by_destination_with_bare_flows(
        old, bare if old_sev and only != "sensitive" else []
    ).items():
        versions = sorted({str(r.get("security")) for r in rows})
        what_en, what_zh, kinds = what_sent(o_rows) if o_rows else ("", "", [])
        sev = rule.severity if o_rows else old_sev
        if only == "sensitive" and not any(is_sensitive(o, rule, facts.category) for o in o_rows):
            continue
        en = (
            f"{what_en} sent to {where} over {'/'.join(versions)}, below TLS 1.2"
            f" ({plural(len(o_rows), 'value')})"
            if o_rows
            else f"{plural(len(f_rows), 'connection')} to {where} use {'/'.join(versions)}, below TLS 1.2, "
            f"sending {size(sum(int(f.get('bytes_out', 0)) for f in f_rows))}"
        )
        zh = (
            f"通过低于 TLS 1.2 的 {'/'.join(versions)} 向 {where} 发送{what_zh}（共 {len(o_rows)} 项）"
            if o_rows
            else f"与 {where} 的 {len(f_rows)} 个连接使用低于 TLS 1.2 的 {'/'.join(versions)}，"
            f"发送 {size(sum(int(f.get('bytes_out', 0)) for f in f_rows))}"
        )
        out.append(
            _finding(
                rule,
                facts,
                en,
                zh,
                {
                    "subject": f"old-tls:{where}",
                    "destination": where,
                    "versions": versions,
                    "types": kinds,
                    "values": len(o_rows),
                    "connections": len(f_rows),
                },
                obs=o_rows,
                flows=f_rows,
                severity=sev,
            )
        )
    return out


def cross_border(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-12: personal data to destinations outside mainland China (flows' cross_border; uploads by
    country outside ``home``); face data, precise location, health or a child's data raise it to
    ``sensitive_severity`` (high)."""
    home = names(rule, "home", ("CN",))
    high_types = names(rule, "high_types", ("face_template", "image", "video", "audio", "health:*", "cn_id"))
    child = facts.category in names(rule, "child_categories", CHILD_CATEGORIES)
    obs = [o for o in unique_obs(facts) if rule.looks_at(str(o["phase"])) and abroad(o, home)]
    ups = [
        u
        for u in upload_rows(facts, rule, ("audio", "video", "image"))
        if rule.looks_at(str(u["phase"])) and abroad(u, home)
    ]
    out = []
    for where, rows in by(obs + ups, dest).items():
        o_rows = [r for r in rows if "ts_ns" in r]
        u_rows = [r for r in rows if "ts_ns" not in r]
        cc = str(rows[0].get("country") or "?")
        what_en, what_zh, kinds = what_sent(o_rows) if o_rows else ("", "", [])
        up_kinds = sorted({str(u["kind"]) for u in u_rows})
        if up_kinds:
            what_en = ", ".join(x for x in (what_en, f"encrypted {'/'.join(up_kinds)} uploads") if x)
            what_zh = "、".join(
                x for x in (what_zh, f"经加密上传的{'/'.join(types_zh([k]) for k in up_kinds)}") if x
            )
        high = (
            child
            or bool(u_rows)
            or any(
                matches(str(o["data_type"]), high_types)
                or (base_type(str(o["data_type"])) in LOCATION_TYPES and is_precise(o, rule))
                for o in o_rows
            )
        )
        sev = worst(rule.severity, str(param(rule, "sensitive_severity", "high"))) if high else rule.severity
        n = messages(rows)
        out.append(
            _finding(
                rule,
                facts,
                f"{what_en} sent abroad to {where} (located in {cc}) {times_en(n)}"
                + (" from a child's device" if child else ""),
                f"向境外 {where}（位于 {cc}）发送了 {n} 次{what_zh}" + ("（儿童设备）" if child else ""),
                {
                    "subject": where,
                    "destination": where,
                    "country": cc,
                    "types": kinds + up_kinds,
                    "messages": messages(o_rows),
                    "values": len(o_rows),
                    "uploads": len(u_rows),
                    "sensitive": high,
                },
                obs=o_rows,
                flows=u_rows,
                severity=sev,
            )
        )
    return out
