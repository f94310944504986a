"""Checks on how often and how precisely data is collected: frequency while idle and against
the declared interval (TR-03), precise location (TR-04).

Frequency comes from ``measures`` (per data type, organisation and phase: median gap between
reports, longest run), which only count observations: heartbeats without personal data are
excluded by construction.
"""

from __future__ import annotations

from typing import Any

from policies.checks.common import (
    LOCATION_TYPES,
    _finding,
    by,
    chrono,
    consent_ns,
    dedupe_persona,
    dest,
    is_precise,
    messages,
    names,
    param,
    separately_consented,
    stepped,
    top,
    unique_obs,
)
from policies.declaration import Declaration
from policies.model import Facts, Finding, Rule
from policies.wording import (
    Row,
    base_type,
    category_en,
    category_zh,
    location_note,
    metres_en,
    metres_zh,
    phase_en,
    phase_zh,
    phases_en,
    phases_zh,
    secs_en,
    secs_zh,
    times_en,
    type_en,
    type_zh,
)


def _measures(facts: Facts) -> list[Row]:
    return dedupe_persona(facts.measures, lambda m: (m.get("organisation"), m.get("phase")))


def _obs_index(facts: Facts) -> dict[tuple[str, str, str], list[Row]]:
    idx: dict[tuple[str, str, str], list[Row]] = {}
    for o in unique_obs(facts):
        idx.setdefault((str(o["data_type"]), str(o["phase"]), str(o.get("organisation") or "")), []).append(o)
    return idx


def frequency(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-03: a data type reported with a median period <= max_interval_s (60) for >= min_duration_s
    (600) in the looked-at phases (and, with ``unmarked_phases``, in a capture without phase marks);
    escalates by ``severity_steps`` ({30: high, 2: fail})."""
    max_s = float(param(rule, "max_interval_s", 60))
    min_dur = float(param(rule, "min_duration_s", 600))
    min_reports = int(param(rule, "min_reports", 3))
    steps = param(rule, "severity_steps", {30: "high", 2: "fail"})
    unmarked = bool(param(rule, "unmarked_phases", True))  # a capture without phase marks is judged whole
    idx = _obs_index(facts)
    out = []
    for m in _measures(facts):
        gap, run, phase = float(m["median_gap_s"]), float(m["longest_run_s"]), str(m["phase"])
        if (
            not (rule.looks_at(phase) or (unmarked and not phase))
            or int(m["reports"]) < min_reports
            or not 0 < gap <= max_s
            or run < min_dur
        ):
            continue
        t = str(m["data_type"])
        obs = idx.get((t, phase, str(m.get("organisation") or "")), [])
        where = top(dest(o) for o in obs) if obs else str(m.get("organisation") or "?")
        loc_en, loc_zh, loc_figs = location_note(obs) if base_type(t) == "location" else ("", "", {})
        during_en = f"in the {phase_en(phase)} phase" if phase else "in a capture without phase marks"
        during_zh = f"{phase_zh(phase)}阶段" if phase else "（采集未标注测试阶段）"
        out.append(
            _finding(
                rule,
                facts,
                f"{type_en(t)}{loc_en} sent to {where} every {secs_en(gap)} (median) {during_en},"
                f" for {secs_en(run)} ({m['reports']} reports)",
                f"{during_zh}每 {secs_zh(gap)}（中位数）向 {where} 发送一次{type_zh(t)}{loc_zh}，"
                f"持续 {secs_zh(run)}（共 {m['reports']} 次）",
                {
                    "subject": f"{base_type(t)}@{where}:{phase}",
                    "data_type": base_type(t),
                    "destination": where,
                    "organisation": m.get("organisation", ""),
                    "phase": phase,
                    "median_gap_s": round(gap, 3),
                    "min_gap_s": round(float(m.get("min_gap_s", 0)), 3),
                    "longest_run_s": round(run, 1),
                    "reports": int(m["reports"]),
                    "max_interval_s": max_s,
                    **loc_figs,
                },
                obs=obs,
                severity=stepped(gap, steps, rule.severity),
            )
        )
    return out


def declared_interval(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-03: reports faster than the interval the declaration states (by more than ``tolerance``)."""
    if decl is None:
        return []
    tol = float(param(rule, "tolerance", 0.1))
    min_reports = int(param(rule, "min_reports", 3))
    idx = _obs_index(facts)
    fast: dict[tuple[str, str], list[Row]] = {}
    for m in _measures(facts):
        t = base_type(str(m["data_type"]))
        declared = decl.data_types.get(t)
        if declared is None or declared.interval_s <= 0 or not rule.looks_at(str(m["phase"])):
            continue
        gap = float(m["median_gap_s"])
        if int(m["reports"]) >= min_reports and 0 < gap < declared.interval_s * (1 - tol):
            fast.setdefault((t, str(m.get("organisation") or "")), []).append(m)
    out = []
    for (t, org), ms in sorted(fast.items()):
        fastest = min(ms, key=lambda m: float(m["median_gap_s"]))
        obs = [o for m in ms for o in idx.get((str(m["data_type"]), str(m["phase"]), org), [])]
        where = top(dest(o) for o in obs) if obs else org or "?"
        declared_s = decl.data_types[t].interval_s
        gap = float(fastest["median_gap_s"])
        phases = [str(m["phase"]) for m in ms]
        ph0 = str(fastest["phase"])
        others = sorted((m for m in ms if m is not fastest), key=lambda m: float(m["median_gap_s"]))[:2]
        also = [(float(m["median_gap_s"]), str(m["phase"])) for m in others]
        also_en = "".join(f", every {secs_en(g)} in the {phase_en(p)} phase" for g, p in also)
        also_zh = "".join(f"，{phase_zh(p)}阶段每 {secs_zh(g)}一次" for g, p in also)
        out.append(
            _finding(
                rule,
                facts,
                f"{type_en(t)} sent to {where} every {secs_en(gap)} (median) in the {phase_en(ph0)} phase"
                f"{also_en}, {declared_s / gap:.1f} times as often as the declared {secs_en(declared_s)}",
                f"{phase_zh(ph0)}阶段每 {secs_zh(gap)}（中位数）向 {where} 发送一次{type_zh(t)}{also_zh}，"
                f"最高频率为声明的每 {secs_zh(declared_s)}一次的 {declared_s / gap:.1f} 倍",
                {
                    "subject": f"{t}@{where}",
                    "data_type": t,
                    "destination": where,
                    "organisation": org,
                    "declared_interval_s": declared_s,
                    "median_gap_s": round(gap, 3),
                    "phases": phases,
                    "reports": sum(int(m["reports"]) for m in ms),
                },
                obs=obs,
            )
        )
    return out


def precise_location(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-04: precise location (>= precise_decimals, accuracy <= max_accuracy_m, Wi-Fi/cell lists).
    Categories in ``city_level_categories`` may send at most city level (3 decimals: candidate, at
    ``candidate_severity``); others need separate (or, with ``consent: guardian``, guardian) consent,
    which only a declaration records: without one they say nothing, unless ``note_undeclared`` asks
    for a note at ``undeclared_severity`` (info)."""
    city_only = facts.category in names(rule, "city_level_categories", ("speaker", "door_lock", "camera"))
    candidate = int(param(rule, "candidate_decimals", 3))
    guardian = str(param(rule, "consent", "separate")) == "guardian"
    guardian_ns = consent_ns(facts, decl.guardian_consent) if decl and guardian else None
    if decl is None and not city_only and not param(rule, "note_undeclared", False):
        return []  # the consent this needs is the declaration's: no guessing without one
    precise: list[Row] = []
    cands: list[Row] = []
    for o in unique_obs(facts):
        t = base_type(str(o["data_type"]))
        if t not in LOCATION_TYPES or not rule.looks_at(str(o["phase"])):
            continue
        if is_precise(o, rule):
            if (
                city_only
                or decl is None
                or (guardian and (guardian_ns is None or int(o["ts_ns"]) < guardian_ns))
                or (not guardian and not separately_consented(decl, t))
            ):
                precise.append(o)
        elif city_only and t == "location" and int(o.get("decimals", -1) or -1) >= candidate:
            cands.append(o)
    out = []
    for where, obs in by(precise + cands, dest).items():
        is_cand = all(o in cands for o in obs)
        kinds = sorted({base_type(str(o["data_type"])) for o in obs})
        _, _, figs = location_note(obs)
        parts_en, parts_zh = _precision_parts(figs)
        parts_en += [type_en(t) for t in kinds if t != "location"]
        parts_zh += [type_zh(t) for t in kinds if t != "location"]
        what_en, what_zh = "; ".join(parts_en), "；".join(parts_zh)
        ph = chrono(obs)
        if city_only:
            sev = str(param(rule, "candidate_severity", "low")) if is_cand else rule.severity
            why_en = f"{category_en(facts.category)} should send at most city-level location"
            why_zh = f"而{category_zh(facts.category)}最多只应发送城市级位置"
            label_en, label_zh = (
                ("near-precise" if is_cand else "precise"),
                ("接近精确的" if is_cand else "精确"),
            )
        elif decl is None:
            sev = str(param(rule, "undeclared_severity", "info"))
            who_en, who_zh = ("the guardian's", "监护人") if guardian else ("separate", "单独")
            why_en = f"it needs {who_en} consent, and no declaration was given to check it"
            why_zh = f"精确位置须取得{who_zh}同意，但未提供产品声明，无法核对"
            label_en, label_zh = "precise", "精确"
        else:
            sev = rule.severity
            label_en, label_zh = "precise", "精确"
            if guardian:
                why_en = (
                    "it was sent before the guardian's consent"
                    if guardian_ns
                    else "no guardian consent is declared"
                )
                why_zh = "但发送早于监护人同意" if guardian_ns else "但声明中没有监护人同意"
            else:
                why_en = "the declaration records no separate consent for it"
                why_zh = "但声明中没有针对精确位置的单独同意"
        n = messages(obs)
        out.append(
            _finding(
                rule,
                facts,
                f"{label_en} location ({what_en}) sent to {where} {times_en(n)} ({phases_en(ph)}),"
                f" but {why_en}",
                f"{phases_zh(ph)}阶段向 {where} 发送了 {n} 次{label_zh}位置（{what_zh}），{why_zh}",
                {
                    "subject": where,
                    "destination": where,
                    "types": kinds,
                    "messages": n,
                    "values": len(obs),
                    "phases": ph,
                    "candidate": is_cand,
                    "category": facts.category,
                    **figs,
                },
                obs=obs,
                severity=sev,
            )
        )
    return out


def _precision_parts(figs: dict[str, Any]) -> tuple[list[str], list[str]]:
    """A location's precision as a report states it: ["6 decimals", "0.111 m", "accuracy 8 m"]."""
    en: list[str] = []
    zh: list[str] = []
    if int(figs.get("max_decimals", -1)) >= 0:
        en.append(f"{figs['max_decimals']} decimals")
        zh.append(f"{figs['max_decimals']} 位小数")
    if figs.get("best_metres"):
        en.append(metres_en(float(figs["best_metres"])))
        zh.append(metres_zh(float(figs["best_metres"])))
    if figs.get("accuracy_m") is not None:
        en.append(f"accuracy {figs['accuracy_m']:.0f} m")
        zh.append(f"精度 {figs['accuracy_m']:.0f} 米")
    return ([", ".join(en)] if en else []), (["，".join(zh)] if zh else [])
