"""Checks on sensor data and switching it off: background uploads (TR-05), audio without
activation (TR-06), face data (TR-07) and other biometrics (TR-08) off the device, withdrawal
(TR-15), undocumented sensors (TR-17).

Sensor data is seen two ways: as observations (a readable payload carried an image, audio,
a face template) and as encrypted uploads judged by their shape (``uploads``: audio, video,
image). Both are evidence; an upload names its flow.
"""

from __future__ import annotations

from collections.abc import Callable

from policies.checks.common import (
    MEDIA_TYPES,
    _finding,
    by,
    chrono,
    dest,
    matches,
    messages,
    names,
    param,
    separately_consented,
    span_start,
    unique_obs,
    upload_rows,
)
from policies.declaration import Declaration
from policies.model import Facts, Finding, Rule
from policies.wording import (
    Row,
    base_type,
    detail,
    phase_en,
    phase_zh,
    phases_en,
    phases_zh,
    plural,
    secs_en,
    secs_zh,
    size,
    times_en,
    types_en,
    types_zh,
)


def _late(facts: Facts, rule: Rule, ts: int, phase: str, grace: float) -> float | None:
    """Seconds after its phase began, when the phase is looked at and ``grace`` has passed."""
    if not rule.looks_at(phase):
        return None
    start = span_start(facts, ts, phase)
    if start is None:
        return None
    late = (ts - start) / 1e9
    return late if late > grace else None


def _media(obs: list[Row], ups: list[Row]) -> tuple[list[str], int]:
    kinds = sorted({base_type(str(o["data_type"])) for o in obs} | {str(u["kind"]) for u in ups})
    return kinds, sum(int(u.get("bytes_out", 0)) for u in ups)


def _sensor_finding(
    rule: Rule,
    facts: Facts,
    subject: str,
    where: str,
    phase: str,
    obs: list[Row],
    ups: list[Row],
    lates: list[float],
    why_en: str,
    why_zh: str,
    severity: str = "",
) -> Finding:
    kinds, sent = _media(obs, ups)
    n = messages(obs + ups)
    vol_en = f", {size(sent)} in encrypted uploads" if sent else ""
    vol_zh = f"，加密上传共 {size(sent)}" if sent else ""
    first = min(lates) if lates else 0.0
    return _finding(
        rule,
        facts,
        f"{types_en(kinds)} sent to {where} {times_en(n)} in the {phase_en(phase)} phase{vol_en}, the first"
        f" {secs_en(first)} after it began, {why_en}",
        f"{phase_zh(phase)}阶段开始 {secs_zh(first)}后，仍向 {where} 发送了 {n} 次"
        f"{types_zh(kinds)}{vol_zh}，{why_zh}",
        {
            "subject": subject,
            "destination": where,
            "phase": phase,
            "types": kinds,
            "messages": messages(obs),
            "values": len(obs),
            "uploads": len(ups),
            "upload_bytes": sent,
            "first_after_s": round(first, 1),
        },
        obs=obs,
        flows=ups,
        severity=severity,
    )


Hits = dict[
    tuple[str, str], tuple[list[Row], list[Row], list[float]]
]  # (phase, dest): obs, uploads, lateness


def _late_after_phase(
    facts: Facts,
    rule: Rule,
    grace: float,
    wanted: Callable[[Row], bool],
    phases: set[str] | None = None,
    upload_kinds: tuple[str, ...] | None = None,
) -> Hits:
    """Observations (that ``wanted`` keeps) and encrypted uploads (of ``upload_kinds``, else the
    rule's, audio and video by default) sent more than ``grace`` s after their phase began, by
    (phase, destination), with how late."""
    kinds = upload_kinds or names(rule, "upload_kinds", ("audio", "video"))
    hits: Hits = {}
    rows = [(o, int(o["ts_ns"]), False) for o in unique_obs(facts) if wanted(o)]
    rows += [(u, int(u["first_ns"]), True) for u in upload_rows(facts, rule, kinds)]
    for r, ts, uploaded in rows:
        if phases is None or str(r["phase"]) in phases:
            late = _late(facts, rule, ts, str(r["phase"]), grace)
            if late is not None:
                g = hits.setdefault((str(r["phase"]), dest(r)), ([], [], []))
                (g[1] if uploaded else g[0]).append(r)
                g[2].append(late)
    return hits


def _sensor_findings(
    rule: Rule, facts: Facts, hits: Hits, why_en: str, why_zh: str, fail_phases: frozenset[str] = frozenset()
) -> list[Finding]:
    """One finding per (phase, destination) of ``hits``; in ``fail_phases`` at severity fail."""
    return [
        _sensor_finding(
            rule,
            facts,
            f"{phase}:{where}",
            where,
            phase,
            obs,
            ups,
            lates,
            why_en,
            why_zh,
            severity="fail" if phase in fail_phases else "",
        )
        for (phase, where), (obs, ups, lates) in sorted(hits.items())
    ]


def background_upload(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-05: raw sensor data (``types``; encrypted uploads of ``upload_kinds``, audio and video by
    default: an image-sized burst may be anything) still sent more than ``grace_s`` (60) after a
    looked-at phase began (feature_off, background, privacy_mode)."""
    grace = float(param(rule, "grace_s", 60))
    types = names(rule, "types", (*MEDIA_TYPES, "health:*"))
    hits = _late_after_phase(facts, rule, grace, lambda o: matches(str(o["data_type"]), types))
    return _sensor_findings(
        rule,
        facts,
        hits,
        f"though sensor uploads must stop within {secs_en(grace)} of switching off"
        " or going to the background",
        f"而传感器数据上传应在关闭或转入后台后 {secs_zh(grace)}内停止",
    )


def audio_without_activation(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-06: audio (observed or as encrypted voice-shaped uploads) in phases without a wake event
    (idle, mute), however soon after the phase began; ``fail_phases`` (mute) raise it to fail."""
    fail_phases = frozenset(names(rule, "fail_phases", ("mute",)))
    audio = _late_after_phase(
        facts,
        rule,
        float("-inf"),
        lambda o: base_type(str(o["data_type"])) == "audio",
        upload_kinds=("audio",),
    )
    return _sensor_findings(rule, facts, audio, "without a wake event", "而当时没有唤醒事件", fail_phases)


def face_off_device(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-07: face data off the device without a separate-consent record: face templates always;
    images in ``recognition_phases`` or from ``image_categories`` (door locks); encrypted image
    uploads in recognition phases. No declaration means no consent record."""
    face_types = names(rule, "face_types", ("face_template",))
    rec_phases = set(
        names(
            rule,
            "recognition_phases",
            ("enrol", "enrolment", "unlock", "recognition", "face_login", "face_unlock"),
        )
    )
    image_cats = set(names(rule, "image_categories", ("door_lock",)))
    obs = []
    for o in unique_obs(facts):
        t = base_type(str(o["data_type"]))
        if not rule.looks_at(str(o["phase"])):
            continue
        face = matches(t, face_types) or (
            t == "image" and (str(o["phase"]) in rec_phases or facts.category in image_cats)
        )
        if face and not separately_consented(decl, t):
            obs.append(o)
    ups = [
        u
        for u in upload_rows(facts, rule, ("image",))
        if str(u["phase"]) in rec_phases
        and rule.looks_at(str(u["phase"]))
        and not separately_consented(decl, "image")
    ]
    out = []
    for where, rows in by(obs + ups, dest).items():
        o_rows = [r for r in rows if "ts_ns" in r]
        u_rows = [r for r in rows if "ts_ns" not in r]
        kinds, sent = _media(o_rows, u_rows)
        dims = sorted({int(d) for r in o_rows for d in [detail(r).get("dimensions")] if d})
        ph = chrono(rows)
        n = messages(rows)
        shown = f" ({'/'.join(map(str, dims))} dimensions)" if dims else ""
        shown_zh = f"（{'/'.join(map(str, dims))} 维）" if dims else ""
        out.append(
            _finding(
                rule,
                facts,
                f"{types_en(kinds)}{shown} sent off the device to {where} {times_en(n)} ({phases_en(ph)})"
                f" without a separate-consent record"
                + (f", {size(sent)} in encrypted uploads" if sent else ""),
                f"{phases_zh(ph)}阶段在没有单独同意记录的情况下，将{types_zh(kinds)}{shown_zh}"
                f"发送到设备之外的 {where}，"
                f"共 {n} 次" + (f"，加密上传 {size(sent)}" if sent else ""),
                {
                    "subject": where,
                    "destination": where,
                    "types": kinds,
                    "messages": messages(o_rows),
                    "values": len(o_rows),
                    "uploads": len(u_rows),
                    "upload_bytes": sent,
                    "phases": ph,
                    "declaration": bool(decl),
                },
                obs=o_rows,
                flows=u_rows,
            )
        )
    return out


_BIO_TEXT = {
    "voiceprint_template": ("voiceprint templates", "声纹特征模板"),
    "voice_enrolment": ("voice enrolment recordings", "声纹录入录音"),
}


def biometric(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-08: other biometrics off the device without separate consent: fingerprint/voiceprint/vein
    templates, float-vector templates from ``voiceprint_categories`` (speakers: a voiceprint), and
    audio, observed or as encrypted voice uploads, in ``enrol_phases`` (voice enrolment)."""
    types = names(rule, "types", ("fingerprint", "voiceprint", "vein", "iris", "palm"))
    voice_cats = set(names(rule, "voiceprint_categories", ("speaker",)))
    enrol = set(names(rule, "enrol_phases", ("enrol", "enrolment", "voice_enrol", "voiceprint_enrol")))
    rows: list[tuple[Row, str]] = []
    for o in unique_obs(facts):
        t = base_type(str(o["data_type"]))
        if not rule.looks_at(str(o["phase"])):
            continue
        if matches(t, types):
            label = t
        elif t == "face_template" and facts.category in voice_cats:
            label = "voiceprint_template"
        elif t == "audio" and str(o["phase"]) in enrol:
            label = "voice_enrolment"
        else:
            continue
        if not (separately_consented(decl, "voiceprint" if label.startswith("voice") else t)):
            rows.append((o, label))
    for u in upload_rows(facts, rule, ("audio",)):
        ok = separately_consented(decl, "voiceprint")
        if str(u["phase"]) in enrol and rule.looks_at(str(u["phase"])) and not ok:
            rows.append((u, "voice_enrolment"))
    out = []
    for where, group in by(rows, lambda r: dest(r[0])).items():
        o_rows = [r for r, _ in group if "ts_ns" in r]
        u_rows = [r for r, _ in group if "ts_ns" not in r]
        labels = sorted({lab for _, lab in group})
        what_en = ", ".join(_BIO_TEXT[lab][0] if lab in _BIO_TEXT else types_en([lab]) for lab in labels)
        what_zh = "、".join(_BIO_TEXT[lab][1] if lab in _BIO_TEXT else types_zh([lab]) for lab in labels)
        sent = sum(int(u.get("bytes_out", 0)) for u in u_rows)
        ph = chrono([r for r, _ in group])
        n = messages(o_rows + u_rows)
        out.append(
            _finding(
                rule,
                facts,
                f"biometric data ({what_en}) sent off the device to {where} {times_en(n)}"
                f" ({phases_en(ph)}) without a separate-consent record"
                + (f", {size(sent)} in encrypted uploads" if sent else ""),
                f"{phases_zh(ph)}阶段在没有单独同意记录的情况下，向 {where} 发送了 {n} 次"
                f"生物识别信息（{what_zh}）" + (f"，加密上传共 {size(sent)}" if sent else ""),
                {
                    "subject": where,
                    "destination": where,
                    "types": labels,
                    "messages": messages(o_rows),
                    "values": len(o_rows),
                    "uploads": len(u_rows),
                    "upload_bytes": sent,
                    "phases": ph,
                },
                obs=o_rows,
                flows=u_rows,
            )
        )
    return out


def after_withdrawal(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-15: personal data or sensor uploads more than ``grace_s`` (60) after a ``withdraw_phases``
    phase (withdraw, delete, ...) began."""
    grace = float(param(rule, "grace_s", 60))
    phases = set(
        names(rule, "withdraw_phases", ("withdraw", "consent_withdrawn", "delete", "account_deleted"))
    )
    hits = _late_after_phase(facts, rule, grace, lambda o: True, phases)
    return [
        _sensor_finding(
            rule,
            facts,
            f"{phase}:{where}",
            where,
            phase,
            obs,
            ups,
            lates,
            f"though withdrawal or deletion must take effect within {secs_en(grace)}",
            f"而撤回同意或删除应在 {secs_zh(grace)}内生效",
        )
        for (phase, where), (obs, ups, lates) in sorted(hits.items())
    ]


def undocumented_sensor(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-17: microphone, camera or biometric data on the network that the declaration does not list:
    observed ``types``, and encrypted uploads of ``upload_kinds`` (audio and video by default: an
    image-sized burst may be anything)."""
    if decl is None:
        return []
    types = names(rule, "types", MEDIA_TYPES)
    groups: dict[str, list[Row]] = {}
    for o in unique_obs(facts):
        t = base_type(str(o["data_type"]))
        if matches(t, types) and rule.looks_at(str(o["phase"])) and not decl.declares_type(t):
            groups.setdefault(t, []).append(o)
    for u in upload_rows(facts, rule, names(rule, "upload_kinds", ("audio", "video"))):
        if rule.looks_at(str(u["phase"])) and not decl.declares_type(str(u["kind"])):
            groups.setdefault(str(u["kind"]), []).append(u)
    out = []
    for t, rows in sorted(groups.items()):
        o_rows = [r for r in rows if "ts_ns" in r]
        u_rows = [r for r in rows if "ts_ns" not in r]
        _, sent = _media(o_rows, u_rows)
        dests = sorted({dest(r) for r in rows})
        out.append(
            _finding(
                rule,
                facts,
                f"{types_en([t])} sent to {', '.join(dests)} {times_en(messages(rows))}"
                + (f" ({plural(len(u_rows), 'encrypted upload')}, {size(sent)})" if u_rows else "")
                + ", but the declaration documents no such sensor data",
                f"向 {'、'.join(dests)} 发送了 {messages(rows)} 次{types_zh([t])}"
                + (f"（其中加密上传 {len(u_rows)} 次，共 {size(sent)}）" if u_rows else "")
                + "，但声明中未说明此类传感器数据",
                {
                    "subject": t,
                    "data_type": t,
                    "destinations": dests,
                    "messages": messages(o_rows),
                    "values": len(o_rows),
                    "uploads": len(u_rows),
                    "upload_bytes": sent,
                },
                obs=o_rows,
                flows=u_rows,
            )
        )
    return out
