"""Checks on what is collected and when: consent (TR-01), necessity (TR-02), contacts (TR-09),
declared and telemetry data types (TR-16).
"""

from __future__ import annotations

from policies.checks.common import (
    LOCATION_TYPES,
    SDK_KINDS,
    _finding,
    by,
    chrono,
    consent_ns,
    dest,
    is_precise,
    messages,
    names,
    unique_obs,
)
from policies.declaration import Declaration
from policies.model import Facts, Finding, Rule
from policies.necessity import category as necessity_of
from policies.wording import (
    KIND_ZH,
    Row,
    base_type,
    category_en,
    category_zh,
    location_note,
    org_en,
    phases_en,
    phases_zh,
    plural,
    secs_en,
    secs_zh,
    times_en,
    type_en,
    type_zh,
    types_en,
    types_zh,
)


def sensitive_before_consent(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-01: personal data, or a contact with a third-party SDK domain, before the declared consent."""
    consent = consent_ns(facts, decl.consent if decl else {})
    if consent is None:
        return []
    early = [o for o in unique_obs(facts) if int(o["ts_ns"]) < consent and rule.looks_at(str(o["phase"]))]
    sdk_kinds = set(names(rule, "sdk_kinds", SDK_KINDS))
    seen_flows = {int(o["flow_id"]) for o in early}
    sdk = [
        f
        for f in facts.flows
        if int(f["first_ns"]) < consent
        and f.get("party") == "third"
        and f.get("service_kind") in sdk_kinds
        and int(f["flow_id"]) not in seen_flows
    ]
    if not early and not sdk:
        return []
    kinds = sorted({base_type(str(o["data_type"])) for o in early})
    dests = sorted({dest(o) for o in early})
    sdk_dests = sorted({dest(f) for f in sdk})
    lead = (max(consent - min(int(o["ts_ns"]) for o in early), 0) / 1e9) if early else 0.0
    if early:
        en = (
            f"{plural(len(early), 'personal-data value')} ({types_en(kinds)}) sent to {', '.join(dests)}"
            f" up to {secs_en(lead)} before consent was given"
        )
        zh = (
            f"在用户同意之前最早 {secs_zh(lead)}，向 {'、'.join(dests)} "
            f"发送了 {len(early)} 项个人信息（{types_zh(kinds)}）"
        )
        if sdk:
            en += (
                f", and {plural(len(sdk), 'connection')} to third-party SDK domains ({', '.join(sdk_dests)})"
            )
            zh += f"，并与第三方 SDK 域名（{'、'.join(sdk_dests)}）建立了 {len(sdk)} 次连接"
    else:
        conns = plural(len(sdk), "connection")
        en = f"{conns} to third-party SDK domains ({', '.join(sdk_dests)}) before consent was given"
        zh = f"在用户同意之前与第三方 SDK 域名（{'、'.join(sdk_dests)}）建立了 {len(sdk)} 次连接"
    return [
        _finding(
            rule,
            facts,
            en,
            zh,
            {
                "subject": "before consent",
                "values": len(early),
                "types": kinds,
                "destinations": dests,
                "sdk_connections": len(sdk),
                "sdk_destinations": sdk_dests,
                "seconds_before_consent": round(lead, 1),
                "consent_ns": consent,
            },
            obs=early,
            flows=sdk,
        )
    ]


def unnecessary_types(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-02: data types the category does not need (policies/necessity.yaml), or needs only for a
    feature the declaration does not list. Entries judged by a requirement in ``defer_to`` are left
    to that rule; without a declaration, feature-only types are not judged."""
    table = necessity_of(facts.category)
    if table is None:
        return []
    defer = set(names(rule, "defer_to", ()))
    feature_phases = set(names(rule, "feature_phases", ("feature_on",)))
    groups: dict[str, list[Row]] = {}
    verdicts: dict[str, tuple[str, str, str]] = {}
    for o in unique_obs(facts):
        if not rule.looks_at(str(o["phase"])):
            continue
        t = base_type(str(o["data_type"]))
        precise = is_precise(o, rule) if t in LOCATION_TYPES else None
        kind, entries = table.classify(t, precise)
        if kind == "necessary" or any(set(e.judged_by) & defer for e in entries):
            continue
        if kind == "feature" and (
            decl is None or _tied_to_feature(decl, t, {f for e in entries for f in e.features})
        ):
            continue
        key = f"{t}:precise" if precise and t == "location" else t
        groups.setdefault(key, []).append(o)
        verdicts[key] = (kind, entries[0].en if entries else "", entries[0].zh if entries else "")
    out = []
    for key, obs in sorted(groups.items()):
        kind, entry_en, entry_zh = verdicts[key]
        if kind in ("not_necessary", "unlisted") and decl is not None:
            t = key.split(":precise")[0]
            if _tied_to_feature(decl, t, set()) and all(str(o["phase"]) in feature_phases for o in obs):
                continue  # tied to a declared feature and seen only while a feature was on
        out.append(_necessity_finding(rule, facts, key, obs, kind, entry_en, entry_zh))
    return out


def _tied_to_feature(decl: Declaration, data_type: str, features: set[str]) -> bool:
    """The declaration ties the type to a feature it lists, or lists a feature the entry names."""
    declared = decl.data_types.get(data_type)
    if declared is not None and set(declared.features) & set(decl.features):
        return True
    return bool(features & set(decl.features))


def _necessity_finding(
    rule: Rule, facts: Facts, key: str, obs: list[Row], kind: str, entry_en: str, entry_zh: str
) -> Finding:
    t = key.split(":precise")[0]
    precise = key.endswith(":precise")
    what_en = ("precise " if precise else "") + type_en(t)
    what_zh = ("精确" if precise else "") + type_zh(t)
    loc_en, loc_zh, loc_figs = location_note(obs) if t == "location" else ("", "", {})
    dests = sorted({dest(o) for o in obs})
    ph = [str(o["phase"]) for o in sorted(obs, key=lambda o: int(o["ts_ns"]))]
    n = messages(obs)
    cat_en, cat_zh = category_en(facts.category), category_zh(facts.category)
    if kind == "feature":
        why_en = f'it is needed only for a feature ("{entry_en}") the declaration does not list'
        why_zh = f"该类型仅在使用某项功能（“{entry_zh}”）时才需要，而声明未列出该功能"
    elif kind == "not_necessary":
        why_en = f'{cat_en} does not need it by default ("{entry_en}")'
        why_zh = f"{cat_zh}默认不需要该信息（“{entry_zh}”）"
    else:
        why_en = f"it is outside the necessary data of {cat_en}"
        why_zh = f"该类型不在{cat_zh}的必要个人信息范围内"
    return _finding(
        rule,
        facts,
        f"{what_en}{loc_en} sent to {', '.join(dests)} {times_en(n)} ({phases_en(ph)}), although {why_en}",
        f"{phases_zh(ph)}阶段向 {'、'.join(dests)} 发送了 {n} 次{what_zh}{loc_zh}，但{why_zh}",
        {
            "subject": key,
            "data_type": t,
            "class": kind,
            "entry": entry_en,
            "messages": n,
            "values": len(obs),
            "destinations": dests,
            "phases": sorted(set(ph)),
            "category": facts.category,
            **loc_figs,
        },
        obs=obs,
    )


def contacts(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-09: a contact list (vCards, >= 5 phone numbers) uploaded without a user-invoked contact
    feature: outside ``feature_phases``, or (with a declaration) not tied to a declared feature."""
    feature_phases = set(names(rule, "feature_phases", ("feature_on",)))
    types = names(rule, "types", ("contacts",))
    hits = []
    for o in unique_obs(facts):
        if base_type(str(o["data_type"])) not in types or not rule.looks_at(str(o["phase"])):
            continue
        invoked = str(o["phase"]) in feature_phases
        tied = decl is not None and _tied_to_feature(decl, base_type(str(o["data_type"])), set())
        if not invoked or (decl is not None and not tied):
            hits.append(o)
    out = []
    for where, obs in by(hits, dest).items():
        ph = chrono(obs)
        why_en = (
            "no contact feature was in use"
            if not any(str(o["phase"]) in feature_phases for o in obs)
            else "the declaration ties it to no feature"
        )
        why_zh = (
            "当时未使用任何通讯录相关功能" if why_en.startswith("no contact") else "声明未将其关联到任何功能"
        )
        entries = [o.get("excerpt", "") for o in obs]
        out.append(
            _finding(
                rule,
                facts,
                f"a contact list ({', '.join(sorted({str(e) for e in entries if e}))}) uploaded to {where}"
                f" {times_en(messages(obs))} ({phases_en(ph)}) while {why_en}",
                f"{phases_zh(ph)}阶段向 {where} 上传了 {messages(obs)} 次通讯录，而{why_zh}",
                {
                    "subject": where,
                    "destination": where,
                    "uploads": messages(obs),
                    "values": len(obs),
                    "phases": ph,
                },
                obs=obs,
            )
        )
    return out


def undeclared_types(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-16: data types sent that the declaration does not list (persona:X counts as X)."""
    if decl is None:
        return []
    ignore = set(names(rule, "ignore_types", ()))
    groups: dict[str, list[Row]] = {}
    for o in unique_obs(facts):
        t = str(o["data_type"])
        if rule.looks_at(str(o["phase"])) and not decl.declares_type(t) and base_type(t) not in ignore:
            groups.setdefault(base_type(t), []).append(o)
    out = []
    for t, obs in sorted(groups.items()):
        dests = sorted({dest(o) for o in obs})
        ph = chrono(obs)
        loc_en, loc_zh, figs = location_note(obs) if t == "location" else ("", "", {})
        n = messages(obs)
        out.append(
            _finding(
                rule,
                facts,
                f"{type_en(t)}{loc_en} sent to {', '.join(dests)} {times_en(n)} ({phases_en(ph)}),"
                " but the declaration does not list it",
                f"{phases_zh(ph)}阶段向 {'、'.join(dests)} 发送了 {n} 次{type_zh(t)}{loc_zh}，"
                "但声明中未列出该类型",
                {
                    "subject": t,
                    "data_type": t,
                    "messages": n,
                    "values": len(obs),
                    "destinations": dests,
                    "phases": ph,
                    **figs,
                },
                obs=obs,
            )
        )
    return out


def telemetry_pi(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-16 (ETSI 6-4): personal data inside telemetry (analytics, crash, attribution, advertising
    endpoints): telemetry should be minimised to what needs no personal data."""
    kinds = set(names(rule, "telemetry_kinds", ("analytics", "crash", "attribution", "advertising")))
    hits = [o for o in unique_obs(facts) if o.get("service_kind") in kinds and rule.looks_at(str(o["phase"]))]
    out = []
    for where, obs in by(hits, dest).items():
        kinds_seen = sorted({base_type(str(o["data_type"])) for o in obs})
        service = str(obs[0].get("service_kind", ""))
        out.append(
            _finding(
                rule,
                facts,
                f"{plural(len(obs), 'personal-data value')} ({types_en(kinds_seen)}) sent in {service}"
                f" telemetry to {where}, a service of {org_en(str(obs[0].get('organisation') or ''))}",
                f"向 {where} 发送的{KIND_ZH.get(service, service)}遥测数据中包含 {len(obs)} 项个人信息"
                f"（{types_zh(kinds_seen)}）",
                {
                    "subject": where,
                    "destination": where,
                    "organisation": obs[0].get("organisation", ""),
                    "service_kind": service,
                    "values": len(obs),
                    "types": kinds_seen,
                },
                obs=obs,
            )
        )
    return out
