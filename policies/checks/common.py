"""What every check shares: the finding builder, rule parameters, and the small judgements
several requirements make alike (is a location precise, is a value sent in clear or abroad,
what did the declaration consent to and when, which uploads count).

A check reads a rule's ``params`` through ``param`` (thresholds with the spec's defaults) and
never changes the facts. The wording of findings is ``policies.wording``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from policies import verdicts
from policies.declaration import Declaration
from policies.model import Facts, Finding, Rule
from policies.wording import Row, base_type, detail, zh_spaced

Check = Callable[[Rule, Facts, Declaration | None], list[Finding]]
T = TypeVar("T")


CLEAR = frozenset(("", "none"))  # flow security of a value the detectors could read: sent in clear
OLD_TLS = frozenset(("ssl3", "tls1.0", "tls1.1", "dtls1.0"))  # RFC 8996 deprecates them all
LOCATION_TYPES = ("location", "wifi_scan", "cell_tower")
ID_TYPES = ("imei", "meid", "imsi", "iccid", "mac", "serial", "android_id", "oaid", "idfa")
MEDIA_TYPES = ("audio", "video", "image", "face_template")
SDK_KINDS = ("analytics", "advertising", "attribution", "push", "crash", "location")
CHILD_CATEGORIES = ("child_watch", "learning_tablet")
CONFIDENCE = {"low": 0, "medium": 1, "high": 2}
SENSITIVE_TYPES = ("location", "wifi_scan", "cell_tower", "cn_id", "health:*", "image", "audio", "video",
                   "face_template", "contacts", "voiceprint", "fingerprint", "vein")  # fmt: skip

# Aliases a declaration may use in separate_consent for a kind of data.
CONSENT_ALIASES: dict[str, frozenset[str]] = {
    "location": frozenset(("location", "precise_location", "wifi_scan", "cell_tower")),
    "wifi_scan": frozenset(("location", "precise_location", "wifi_scan")),
    "cell_tower": frozenset(("location", "precise_location", "cell_tower")),
    "face_template": frozenset(("face_template", "face", "biometric", "biometrics")),
    "image": frozenset(("image", "face", "photo", "photos")),
    "video": frozenset(("video",)),
    "audio": frozenset(("audio", "voice")),
    "voiceprint": frozenset(("voiceprint", "voice", "biometric", "biometrics")),
    "fingerprint": frozenset(("fingerprint", "biometric", "biometrics")),
}


def _finding(
    rule: Rule,
    facts: Facts,
    statement: str,
    statement_zh: str,
    figures: dict[str, Any],
    obs: list[dict[str, Any]] | None = None,
    flows: list[dict[str, Any]] | None = None,
    severity: str = "",
) -> Finding:
    """A finding backed by observations and/or flows: their ids, time span and masked excerpts."""
    obs = obs or []
    flows = flows or []
    times = [int(o["ts_ns"]) for o in obs] + [int(f["first_ns"]) for f in flows]
    ids = sorted({int(o["flow_id"]) for o in obs} | {int(f["flow_id"]) for f in flows})
    excerpts = sorted({str(o["excerpt"]) for o in obs if o.get("excerpt")})[:5]
    return Finding(
        rule=rule,
        device=facts.mac,
        severity=severity or rule.severity,
        statement=statement,
        statement_zh=zh_spaced(statement_zh),
        figures=figures,
        flow_ids=ids,
        first_ns=min(times) if times else 0,
        last_ns=max(times) if times else 0,
        excerpts=excerpts,
        observations=len(obs),
    )


def param(rule: Rule, key: str, default: Any) -> Any:
    """A threshold from the rule's params (a declaration's overrides are already merged in)."""
    value = rule.params.get(key, default)
    return default if value is None else value


def names(rule: Rule, key: str, default: Iterable[str]) -> tuple[str, ...]:
    value = param(rule, key, list(default))
    return tuple(str(v) for v in ([value] if isinstance(value, str) else value))


def stepped(value: float, steps: Any, base: str) -> str:
    """The severity for a measured value: the step with the smallest bound the value is within
    (``{30: high, 2: fail}``: 20 s is high, 1 s fail, 45 s the rule's own severity)."""
    best: tuple[float, str] | None = None
    for bound, sev in dict(steps or {}).items():
        b = float(bound)
        if value <= b and (best is None or b < best[0]):
            best = (b, str(sev))
    return best[1] if best else base


def worst(*severities: str) -> str:
    return verdicts.worst(severities)


def matches(data_type: str, patterns: Iterable[str]) -> bool:
    """Whether a data type (or its base type) is one of the patterns ("health:*" covers health:sleep)."""
    cands = {data_type, base_type(data_type)}
    return any(
        p in cands or (p.endswith(":*") and any(c.startswith(p[:-1]) for c in cands)) for p in patterns
    )


def is_precise(o: Row, rule: Rule) -> bool:
    """TR-04: >= 4 decimals (~11 m), an accuracy field <= 500 m, or Wi-Fi/cell lists (precise-equivalent)."""
    t = base_type(str(o["data_type"]))
    if t in LOCATION_TYPES[1:]:
        return True
    if t != "location":
        return False
    acc = detail(o).get("accuracy_m")
    if acc is not None and float(acc) <= float(param(rule, "max_accuracy_m", 500)):
        return True
    return int(o.get("decimals", -1) or -1) >= int(param(rule, "precise_decimals", 4))


def is_sensitive(o: Row, rule: Rule, category: str) -> bool:
    """Sensitive PI in the spec's sense: the rule's list; location only when precise; any PI of a child."""
    if category in names(rule, "child_categories", CHILD_CATEGORIES) and param(
        rule, "children_sensitive", True
    ):
        return True
    t = str(o["data_type"])
    if base_type(t) == "location":
        return is_precise(o, rule)
    return matches(t, names(rule, "sensitive_types", SENSITIVE_TYPES))


def messages(rows: Iterable[Row]) -> int:
    """How many times something was sent: the messages the observations came in (one per flow and
    time) and the upload bursts (one per flow and start). Four requests carrying twelve values are
    sent four times; statements count these and give the values as a figure of their own."""
    return len(
        {(int(r.get("flow_id") or 0), int(r["ts_ns"] if "ts_ns" in r else r["first_ns"])) for r in rows}
    )


def by_destination_with_bare_flows(
    obs: list[Row], flows: Iterable[Row]
) -> dict[str, tuple[list[Row], list[Row], list[Row]]]:
    """Observations and the flows that carried none of them (encrypted or undissected contact), by
    destination: (observations and flows together, the observations, the flows)."""
    carried = {int(o["flow_id"]) for o in obs}
    bare = [f for f in flows if int(f["flow_id"]) not in carried]
    return {
        where: (rows, [r for r in rows if "ts_ns" in r], [r for r in rows if "ts_ns" not in r])
        for where, rows in by(obs + bare, dest).items()
    }


def unique_obs(facts: Facts) -> list[Row]:
    """The observations without persona matches repeating a value already found in the same message
    (imei and persona:imei at one path): one value counts once. Hashed persona values stay."""
    return dedupe_persona(facts.observations, lambda o: (o.get("flow_id"), o.get("ts_ns")))


def dedupe_persona(rows: list[Row], key: Callable[[Row], tuple[Any, ...]]) -> list[Row]:
    """Drop persona:X rows where the X row with the same key exists (one value found twice)."""
    have = {(str(r["data_type"]), *key(r)) for r in rows}
    return [
        r
        for r in rows
        if not (
            str(r["data_type"]).startswith("persona:") and (base_type(str(r["data_type"])), *key(r)) in have
        )
    ]


def consent_ns(facts: Facts, moment: dict[str, Any]) -> int | None:
    """When the declared consent was given: its time, or the start of the phase it names."""
    if "at_ns" in moment:
        return int(moment["at_ns"])
    if "phase" in moment:
        return facts.phase_start(str(moment["phase"]))
    return None


def separately_consented(decl: Declaration | None, data_type: str) -> bool:
    if decl is None:
        return False
    t = base_type(data_type)
    wanted = CONSENT_ALIASES.get(t, frozenset((t,))) | {t, data_type}
    return bool(wanted & set(decl.separate_consent))


def span_start(facts: Facts, ts: int, phase: str) -> int | None:
    """When the phase occurrence holding ``ts`` began (the first of that name when none holds it)."""
    for p in facts.phases:
        if p.name == phase and p.start_ns <= ts <= p.end_ns:
            return p.start_ns
    return facts.phase_start(phase)


def upload_rows(facts: Facts, rule: Rule, kinds: Iterable[str]) -> list[Row]:
    """Encrypted uploads of these kinds at or above the rule's ``min_confidence`` (default medium),
    normalised: flow_id, first_ns, phase (the read API gives them by those names)."""
    floor = CONFIDENCE.get(str(param(rule, "min_confidence", "medium")), 1)
    wanted = set(kinds)
    out = []
    for u in facts.uploads:
        if str(u.get("kind")) not in wanted or CONFIDENCE.get(str(u.get("confidence", "low")), 0) < floor:
            continue
        start = int(u["start_ns"])
        out.append(
            {
                **u,
                "flow_id": int(u.get("flow_id") or 0),
                "first_ns": start,
                "phase": str(u.get("phase") or ""),
            }
        )
    return out


def flow_index(facts: Facts) -> dict[int, Row]:
    return {int(f["flow_id"]): f for f in facts.flows}


def protocol(flow: Row | None, o: Row) -> str:
    """How a value travelled, as a report names it: HTTP, MQTT, CoAP..."""
    app = str((flow or {}).get("app") or "") or str(o.get("carrier", "")).split(".", 1)[0]
    return {
        "http": "HTTP",
        "http2": "HTTP/2",
        "mqtt": "MQTT",
        "coap": "CoAP",
        "rtsp": "RTSP",
        "rtp": "RTP",
        "ftp": "FTP",
        "telnet": "telnet",
        "ws": "WebSocket",
        "websocket": "WebSocket",
    }.get(app, app.upper() or "an unknown protocol")


def by(rows: Iterable[T], key: Callable[[T], Any]) -> dict[Any, list[T]]:
    """Rows grouped by a key, groups in key order (findings come out in a stable order)."""
    out: dict[Any, list[T]] = {}
    for r in rows:
        out.setdefault(key(r), []).append(r)
    return dict(sorted(out.items(), key=lambda kv: str(kv[0])))


def dest(r: Row) -> str:
    return str(r.get("destination") or r.get("remote_ip") or "?")


def top(values: Iterable[str]) -> str:
    c = Counter(v for v in values if v)
    return c.most_common(1)[0][0] if c else "?"


def chrono(rows: Iterable[Row]) -> list[str]:
    """The phases of the rows in the order they were first seen."""
    seen: dict[str, int] = {}
    for r in rows:
        p = str(r.get("phase") or "")
        t = int(r.get("ts_ns") or r.get("first_ns") or 0)
        if p and (p not in seen or t < seen[p]):
            seen[p] = t
    return sorted(seen, key=lambda p: seen[p])


def abroad(r: Row, home: tuple[str, ...]) -> bool:
    if "cross_border" in r and r.get("cross_border") not in (None, ""):
        return bool(int(r["cross_border"]))
    cc = str(r.get("country") or "")
    return bool(cc) and cc not in home
