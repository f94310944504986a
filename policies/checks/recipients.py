"""Checks on who receives the data: undeclared third parties (TR-13) and children's data
(TR-14, COPPA): ad and analytics services, sensors before the guardian's consent, photos and
voice to third parties or abroad.
"""

from __future__ import annotations

from policies.checks.common import (
    CHILD_CATEGORIES,
    MEDIA_TYPES,
    _finding,
    abroad,
    by,
    by_destination_with_bare_flows,
    chrono,
    consent_ns,
    dest,
    matches,
    messages,
    names,
    param,
    unique_obs,
    upload_rows,
)
from policies.declaration import Declaration
from policies.model import Facts, Finding, Rule
from policies.wording import (
    Row,
    base_type,
    kind_en,
    kind_zh,
    org_en,
    org_of,
    org_of_zh,
    org_zh,
    phases_en,
    phases_zh,
    plural,
    size,
    times_en,
    types_en,
    types_zh,
    what_sent,
)


def undeclared_third_party(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-13: third parties the declaration does not name (destinations or SDKs): receiving personal
    data (rule severity) or contacted over encrypted flows only (``encrypted_severity``, low).
    On a child device an advertising or attribution SDK (``fail_kinds``) is a fail."""
    if decl is None:
        return []
    child = facts.category in names(rule, "child_categories", CHILD_CATEGORIES)
    fail_kinds = set(names(rule, "fail_kinds", ("advertising", "attribution")))
    ignore = set(names(rule, "ignore_kinds", ("time", "dns", "connectivity", "cdn")))

    def undeclared(r: Row) -> bool:
        return (
            r.get("party") == "third"
            and str(r.get("service_kind") or "") not in ignore
            and not decl.declares_destination(dest(r), str(r.get("organisation") or ""))
        )

    obs = [o for o in unique_obs(facts) if rule.looks_at(str(o["phase"])) and undeclared(o)]
    flows = [
        f
        for f in facts.flows
        if rule.looks_at(str(f.get("phase", ""))) and undeclared(f) and int(f.get("bytes_out", 0) or 0) > 0
    ]
    out = []
    for where, (rows, o_rows, f_rows) in by_destination_with_bare_flows(obs, flows).items():
        kind = str(rows[0].get("service_kind") or "")
        org = org_of(rows)
        sev = rule.severity if o_rows else str(param(rule, "encrypted_severity", "low"))
        if child and kind in fail_kinds:
            sev = "fail"
        if o_rows:
            what_en, what_zh, kinds = what_sent(o_rows)
            en = (
                f"{where}, the {kind_en(kind)} of {org}, received"
                f" {plural(len(o_rows), 'personal-data value')} ({what_en})"
                " but is not among the declared third parties"
            )
            zh = (
                f"{org_of_zh(rows)}的{kind_zh(kind)}（{where}）接收了 {len(o_rows)} 项个人信息"
                f"（{what_zh}），但不在声明的第三方之列"
            )
        else:
            kinds = []
            sent = sum(int(f.get("bytes_out", 0) or 0) for f in f_rows)
            en = (
                f"{where}, the {kind_en(kind)} of {org}, was contacted over"
                f" {plural(len(f_rows), 'encrypted connection')} ({size(sent)} sent)"
                " but is not among the declared third parties"
            )
            zh = (
                f"设备通过 {len(f_rows)} 个加密连接联系了{org_of_zh(rows)}的{kind_zh(kind)}"
                f"（{where}），"
                f"发送 {size(sent)}，但其不在声明的第三方之列"
            )
        out.append(
            _finding(
                rule,
                facts,
                en,
                zh,
                {
                    "subject": where,
                    "destination": where,
                    "organisation": rows[0].get("organisation", ""),
                    "service_kind": kind,
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


def minors(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-14 (and COPPA): on a child's device, the ``parts`` the rule names:
    sdk: analytics/advertising/attribution services contacted (``fail_kinds`` fail; analytics is
      excused only when declared and contacted after the guardian's consent);
    before_guardian: microphone, camera or location data (``sensor_types``) before the declared
      guardian consent (needs a declaration);
    media_third_party / media_abroad: photos, voice or video to a third party / abroad."""
    parts = set(names(rule, "parts", ("sdk", "before_guardian", "media_abroad")))
    guardian = consent_ns(facts, decl.guardian_consent) if decl else None
    out: list[Finding] = []
    if "sdk" in parts:
        out += _child_sdks(rule, facts, decl, guardian)
    sensors = names(
        rule,
        "sensor_types",
        ("audio", "image", "video", "face_template", "location", "wifi_scan", "cell_tower"),
    )
    if "before_guardian" in parts and guardian is not None:
        obs = [
            o
            for o in unique_obs(facts)
            if int(o["ts_ns"]) < guardian
            and rule.looks_at(str(o["phase"]))
            and matches(str(o["data_type"]), sensors)
        ]
        ups = [
            u
            for u in upload_rows(facts, rule, [k for k in ("audio", "video", "image") if k in sensors])
            if int(u["first_ns"]) < guardian
        ]
        if obs or ups:
            kinds = what_sent(obs)[2]
            kinds += sorted({str(u["kind"]) for u in ups} - set(kinds))
            dests = sorted({dest(r) for r in obs + ups})
            ph = chrono(obs + ups)
            out.append(
                _finding(
                    rule,
                    facts,
                    f"{types_en(kinds)} from a child's device sent to {', '.join(dests)}"
                    f" {times_en(messages(obs + ups))} ({phases_en(ph)}) before the guardian's consent",
                    f"在监护人同意之前，{phases_zh(ph)}阶段儿童设备向 {'、'.join(dests)} "
                    f"发送了 {messages(obs + ups)} 次"
                    f"{types_zh(kinds)}",
                    {
                        "subject": "before guardian consent",
                        "types": kinds,
                        "destinations": dests,
                        "messages": messages(obs),
                        "values": len(obs),
                        "uploads": len(ups),
                        "guardian_consent_ns": guardian,
                    },
                    obs=obs,
                    flows=ups,
                )
            )
    media = names(rule, "media_types", MEDIA_TYPES)
    home = names(rule, "home", ("CN",))
    for part, test_en, test_zh in (
        ("media_third_party", "a third party", "第三方"),
        ("media_abroad", "a destination abroad", "境外"),
    ):
        if part not in parts:
            continue

        def hit(r: Row, part: str = part) -> bool:
            return r.get("party") == "third" if part == "media_third_party" else abroad(r, home)

        obs = [
            o
            for o in unique_obs(facts)
            if rule.looks_at(str(o["phase"])) and matches(str(o["data_type"]), media) and hit(o)
        ]
        ups = [
            u
            for u in upload_rows(facts, rule, [k for k in ("audio", "video", "image") if k in media])
            if rule.looks_at(str(u["phase"])) and hit(u)
        ]
        for where, rows in by(obs + ups, dest).items():
            o_rows = [r for r in rows if "ts_ns" in r]
            u_rows = [r for r in rows if "ts_ns" not in r]
            kinds = sorted({base_type(str(r.get("data_type") or r.get("kind"))) for r in rows})
            extra = f" ({rows[0].get('country')})" if part == "media_abroad" else ""
            out.append(
                _finding(
                    rule,
                    facts,
                    f"{types_en(kinds)} from a child's device sent {times_en(messages(rows))} to {where},"
                    f" {test_en}{extra}",
                    f"儿童设备的{types_zh(kinds)}被发送到{test_zh} {where}{extra}，共 {messages(rows)} 次",
                    {
                        "subject": f"{part}:{where}",
                        "destination": where,
                        "types": kinds,
                        "messages": messages(o_rows),
                        "values": len(o_rows),
                        "uploads": len(u_rows),
                        "country": rows[0].get("country", ""),
                    },
                    obs=o_rows,
                    flows=u_rows,
                )
            )
    return out


def _child_sdks(rule: Rule, facts: Facts, decl: Declaration | None, guardian: int | None) -> list[Finding]:
    kinds = set(names(rule, "sdk_kinds", ("analytics", "advertising", "attribution")))
    fail_kinds = set(names(rule, "fail_kinds", ("advertising", "attribution")))
    flows = [
        f
        for f in facts.flows
        if f.get("service_kind") in kinds
        and f.get("party") != "first"
        and rule.looks_at(str(f.get("phase", "")))
    ]
    pi = by([o for o in unique_obs(facts) if o.get("service_kind") in kinds], lambda o: int(o["flow_id"]))
    out = []
    for org, rows in by(flows, lambda f: str(f.get("organisation") or dest(f))).items():
        kind = sorted({str(f["service_kind"]) for f in rows}, key=lambda k: k not in fail_kinds)[0]
        excused = (
            kind not in fail_kinds
            and decl is not None
            and guardian is not None
            and all(decl.declares_destination(dest(f), str(f.get("organisation") or "")) for f in rows)
            and all(int(f["first_ns"]) >= guardian for f in rows)
        )
        if excused:
            continue
        obs = [o for f in rows for o in pi.get(int(f["flow_id"]), [])]
        dests = sorted({dest(f) for f in rows})
        foreign = sorted({str(f.get("country")) for f in rows if int(f.get("cross_border", 0) or 0)})
        what_en, what_zh, types = what_sent(obs) if obs else ("", "", [])
        carried_en = f", carrying {plural(len(obs), 'personal-data value')} ({what_en})" if obs else ""
        carried_zh = f"，携带 {len(obs)} 项个人信息（{what_zh}）" if obs else ""
        where_en = f" abroad in {', '.join(foreign)}" if foreign else ""
        where_zh = f"，该服务位于境外（{'、'.join(foreign)}）" if foreign else ""
        out.append(
            _finding(
                rule,
                facts,
                f"a child's device contacted {', '.join(dests)}, the {kind} service of"
                f" {org_en(org)}{where_en}, over {plural(len(rows), 'connection')}{carried_en}",
                f"儿童设备通过 {len(rows)} 个连接联系了{org_zh(org)}的{kind_zh(kind)}"
                f"（{'、'.join(dests)}）"
                f"{where_zh}{carried_zh}",
                {
                    "subject": f"sdk:{org}",
                    "organisation": org,
                    "service_kind": kind,
                    "destinations": dests,
                    "connections": len(rows),
                    "values": len(obs),
                    "types": types,
                    "countries_abroad": foreign,
                },
                obs=obs,
                flows=rows,
                severity="fail" if kind in fail_kinds else rule.severity,
            )
        )
    return out
