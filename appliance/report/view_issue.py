"""The report's front and back as a laboratory issues it: the identification table (number,
laboratory, customer, item, dates, decision rule, overall conformity) before the sections, and
the approval block (names and roles from the lab settings file) after them; and flows named as
a reader knows them. The data is ``ReportData.issue`` (``appliance.report.issue``).
"""

from __future__ import annotations

from typing import Any

from appliance.format import zone_name
from appliance.report.document import BR, Block, Paragraph, Run, Runs, Table, col, ident, text, ts
from appliance.report.issue import NOT_CONFIGURED
from appliance.report.lab import DECISION_RULE, DECISION_RULE_ZH

PROTO = {6: "TCP", 17: "UDP", 1: "ICMP", 58: "ICMPv6"}  # IANA protocol numbers


def decision_rule(rule: str, lang: str) -> Runs:
    """The decision rule in the report's language: tapaudit's own has a Chinese text; a lab's own
    rule (lab settings ``report.decision_rule``) is shown as the lab wrote it."""
    if rule != DECISION_RULE or lang == "en":
        return text(rule)
    if lang == "zh":
        return text(DECISION_RULE_ZH)
    return [Run(rule), BR, Run(DECISION_RULE_ZH, "muted")]


def say(lang: str, en: str, zh: str) -> str:
    """A label in the report's language: English, Chinese, or both (``--lang``)."""
    return en if lang == "en" else zh if lang == "zh" else f"{en} · {zh}"


def front(issue: dict[str, Any], lang: str) -> list[Block]:
    if not issue:
        return []
    lab, cust, item, dates = issue["laboratory"], issue["customer"], issue["item"], issue["test_dates"]

    def either(*parts: str) -> Runs:
        shown = [p for p in parts if p]
        return text(", ".join(shown)) if shown else [Run(NOT_CONFIGURED, "muted")]

    serial = [Run(item["serial_masked"], "id")] if item["serial_masked"] else [Run("not given", "muted")]
    imei = [Run(item["imei_masked"], "id")] if item["imei_masked"] else [Run("not given", "muted")]
    assessed = ", ".join(dates["assessed"]) or "not assessed"
    c = issue["conformity"]
    statement = c["en"] if lang == "en" else c["zh"] if lang == "zh" else f"{c['en']} {c['zh']}"
    rows = [
        [text(say(lang, "Report number", "报告编号")), [Run(issue["report_number"], "strong")]],
        [text(say(lang, "Date of issue", "签发日期")), text(issue["issued"])],
        [text(say(lang, "Laboratory", "检测实验室")), either(lab["name"], lab["address"])],
        [text(say(lang, "Accreditation", "认可")), either(lab["accreditation"])],
        [text(say(lang, "Customer", "委托方")), either(cust["name"], cust["address"])],
        [
            text(say(lang, "Item tested", "样品")),
            [
                Run(
                    f"{item['product'] or '-'} ({item['vendor'] or '-'}), model {item['model'] or '-'}, "
                    f"firmware {item['firmware'] or '-'}"
                ),
                BR,
                Run("MAC "),
                *ident(item["mac"]),
                Run(" · serial "),
                *serial,
                Run(" · IMEI "),
                *imei,
            ],
        ],
        [
            text(say(lang, "Test dates", "检测日期")),
            text(
                f"captured {dates['capture_from'] or '-'} to {dates['capture_to'] or '-'} {zone_name()}; "
                f"assessed {assessed}"
            ),
        ],
        [
            text(say(lang, "Set-up and method", "测试配置与方法")),
            [
                Run("capture point: "),
                *either(issue["setup"]["capture_point"]),
                Run(f" (link types {', '.join(issue['setup']['link_types']) or '-'})"),
                BR,
                Run(
                    "phases: section 3; capture files, tools and versions, rule packs and their hashes: "
                    "section 4; method: section 9",
                    "muted",
                ),
            ],
        ],
        [text(say(lang, "Decision rule", "判定规则")), decision_rule(issue["decision_rule"], lang)],
        [text(say(lang, "Overall conformity", "总体符合性结论")), [Run(statement, "strong")]],
    ]
    return [Table([col("Field"), col("Value")], rows, cls="kv")]


def approval(issue: dict[str, Any], lang: str) -> list[Block]:
    """Who tested, reviewed and approved the report, each with a line to sign and date."""
    if not issue:
        return []
    signs = issue["signatories"]
    if not signs:
        return [Paragraph([Run(f"Signatories: {NOT_CONFIGURED}.", "prose")], muted=True)]
    columns = [
        col(say(lang, "Role", "职责")),
        col(say(lang, "Name", "姓名")),
        col(say(lang, "Signature", "签名"), width="34%"),
        col(say(lang, "Date", "日期"), width="18%"),
    ]
    rows = [[text(s["role"]), text(s["name"]), text(" "), text(" ")] for s in signs]
    end = say(lang, "End of report", "报告结束")
    return [
        Table(columns, rows, cls="sign"),
        Paragraph(
            text(
                f"Report {issue['report_number']}. The results relate only to the item tested and the "
                "captures named in section 4. This report shall not be reproduced except in full "
                f"without the laboratory's written approval. {end}."
            ),
            muted=True,
        ),
    ]


def flow_name(f: dict[str, Any]) -> str:
    """A flow as people name it: when it began, which device, to where (the id stays in the JSON)."""
    proto = PROTO.get(int(f["proto"]), str(f["proto"]))
    return f"{ts(f['first_ns'])} {f['device']} → {f['destination']}:{f['port']}/{proto}"


def flow_runs(flows: list[dict[str, Any]], limit: int = 12) -> Runs:
    out: Runs = []
    flows = sorted(flows, key=lambda f: (f["first_ns"], f["flow_id"]))
    for f in flows[:limit]:
        out += [BR, Run(flow_name(f))] if out else [Run(flow_name(f))]
    if len(flows) > limit:
        out += [BR, Run(f"… and {len(flows) - limit} more (the report's JSON lists them all)", "muted")]
    return out
