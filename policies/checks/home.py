"""Locations that give away where the tester lives (TR-04; GB/T 45574-2025 6.6, whereabouts).

A precise location is sensitive; one within a few hundred metres of the person's home says where
they live. The distance is measured at ingest, where the bench persona's home and the reported
coordinates are in memory (``parsers.detect.home``), and only its class is stored in the
observation's detail (``home_within_m``: 50, 100, 250, 500 m, or the bench file's own radius).
This check states that class and how often, never the coordinates.
"""

from __future__ import annotations

from policies.checks.common import _finding, chrono, dest, messages, unique_obs
from policies.declaration import Declaration
from policies.model import Facts, Finding, Rule
from policies.wording import detail, metres_en, metres_zh, phases_en, phases_zh, times_en


def home_location(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """One finding per device: the location reports within the radius of its persona's home, their
    widest and nearest distance classes, where they went and in which phases. Needs no
    declaration: where a person lives is the fact, whatever was consented to."""
    near = [
        o
        for o in unique_obs(facts)
        if str(o["data_type"]) == "location"
        and "home_within_m" in detail(o)
        and rule.looks_at(str(o["phase"]))
    ]
    if not near:
        return []
    classes = sorted({int(detail(o)["home_within_m"]) for o in near})
    nearest, outer = classes[0], classes[-1]
    dests = sorted({dest(o) for o in near})
    ph = chrono(near)
    n = messages(near)  # reports sent, not values: a report with two fixes is one time
    closest_en = f" (the nearest within {metres_en(nearest)})" if nearest < outer else ""
    closest_zh = f"（最近的在 {metres_zh(nearest)} 以内）" if nearest < outer else ""
    en = (
        f"location within {metres_en(outer)} of the tester's home{closest_en} sent to {', '.join(dests)}"
        f" {times_en(n)} ({phases_en(ph)}): these reports say where the person lives"
    )
    zh = (
        f"{phases_zh(ph)}阶段向 {'、'.join(dests)} 发送了 {n} 次距测试者住址"
        f" {metres_zh(outer)} 以内的位置{closest_zh}，据此可知其住处"
    )
    figures = {
        "subject": "home",
        "messages": n,
        "values": len(near),
        "within_m": outer,
        "nearest_m": nearest,
        "by_class_m": {str(c): sum(int(detail(o)["home_within_m"]) == c for o in near) for c in classes},
        "destinations": dests,
        "phases": ph,
    }
    return [_finding(rule, facts, en, zh, figures, obs=near)]
