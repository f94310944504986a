"""The report as Markdown (GitHub-flavoured tables): the HTML report's content, section for section.

Charts are PNG files written next to the .md and linked by their file name; when the report
goes to stdout there is nowhere to put them, and a note says so.
"""

from __future__ import annotations

import re
from typing import Any

from appliance.format import fmt_bytes, fmt_secs, fmt_ts
from appliance.report import charts
from appliance.report.data import ReportData, figure_text
from policies.wording import plural

_SPECIAL = re.compile(r"([\\`*_|<>\[\]#])")


def esc(value: Any) -> str:
    """Plain text for a Markdown table cell or paragraph."""
    return _SPECIAL.sub(r"\\\1", str(value)).replace("\r", " ").replace("\n", "<br>")


def inline(text: str) -> str:
    """Prose whose `backquoted` parts are commands or names: those as code spans, the rest escaped."""
    parts = str(text).split("`")
    return "".join(code(p) if i % 2 else esc(p) for i, p in enumerate(parts))


def code(value: Any) -> str:
    """Literal text (ids, masked excerpts, field paths) in a code span; '-' when empty."""
    text = str(value).replace("\n", " ").replace("|", "\\|")
    if not text:
        return "-"
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _ts(ns: int) -> str:
    return fmt_ts(int(ns)) if ns else "-"


def _table(head: list[str], rows: list[list[str]], right: set[int] | None = None) -> list[str]:
    right = right or set()
    out = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---:" if i in right else "---" for i in range(len(head))) + "|",
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return [*out, ""]


def chart_file_names(stem: str, data: ReportData) -> dict[str, str]:
    """chart id -> the PNG's file name beside the report (``report.md`` -> ``report.intervals.png``)."""
    return {c.id: f"{stem}.{c.id}.png" for c in data.charts if not c.empty}


METHOD = (
    "The captures were replayed by tapaudit: packets into flows, flows decoded (DNS, TLS, QUIC, HTTP, "
    "MQTT, CoAP, RTSP...), destinations named from the organisation catalogue and the IP databases above, "
    "and what the device sent in readable protocols scanned for personal data. Values are kept as keyed "
    "hashes and masked excerpts. Intervals are the times between messages carrying the same data type to "
    "the same organisation. The rule packs judge those measures per device; their files' hashes identify "
    "exactly the rules that ran. Times are UTC."
)


def render_md(data: ReportData, chart_stem: str | None = None) -> tuple[str, dict[str, bytes]]:
    """The Markdown text, and the chart PNGs to write beside it (file name -> bytes)."""
    d, pv = data.device, data.provenance
    files: dict[str, bytes] = {}
    names = chart_file_names(chart_stem, data) if chart_stem else {}

    def chart(chart_id: str) -> list[str]:
        c = data.chart(chart_id)
        if c.empty:
            return [f"*{esc(c.title)}: {esc(c.note)}*", ""]
        if chart_id not in names:
            return [
                f"*Chart \u201c{esc(c.title)}\u201d omitted: the report was written to standard output "
                "(write it to a file with -o to get the charts as PNG files beside it).*",
                "",
            ]
        files[names[chart_id]] = charts.render(c, "png", dpi=150)
        return [
            f"![{esc(c.title)}. {esc(c.x_label)}; {esc(c.y_label)}.]({names[chart_id]})",
            "",
            esc(c.note),
            "",
        ]

    multi = len(data.captures) > 1
    lines = [
        "# Personal-data traffic test report · 个人信息流量测试报告",
        "",
        f"{esc(d['name'] or d['mac'])} · {code(d['mac'])} · {esc(d['category'])} · generated "
        f"{esc(data.generated_at)} by tapaudit {esc(data.tool_version)}",
        "",
        "## 1. Summary verdict per requirement · 各项要求结论",
        "",
    ]
    sev = [f["severity"] for f in data.findings]
    verdicts = [q["verdict"] for q in data.requirements]
    lines += [
        f"{plural(len(sev), 'finding')}; {verdicts.count('pass')} requirements passed, "
        f"{sum(v not in ('pass', 'not assessed') for v in verdicts)} with findings, "
        f"{verdicts.count('not assessed')} not assessed.",
        "",
    ]
    lines += _table(
        ["Req.", "Requirement", "Verdict", "Findings", "Basis"],
        [
            [
                q["id"],
                f"{esc(q['title'])}<br>{esc(q['title_zh'])}",
                f"**{esc(q['verdict'])}** {esc(q['verdict_zh'])}",
                str(q["findings"]),
                inline(q["note"]) + (f"<br>rules: {esc(', '.join(q['rules']))}" if q["rules"] else ""),
            ]
            for q in data.requirements
        ],
        right={3},
    )
    lines += ["## 2. Device under test · 被测设备", ""]
    oui = f" (OUI: {esc(d['oui_vendor'])})" if d["oui_vendor"] and d["oui_vendor"] != d["vendor"] else ""
    lines += _table(
        ["Field", "Value"],
        [
            ["MAC address", code(d["mac"])],
            ["Name", esc(d["name"] or "-")],
            ["Vendor", esc(d["vendor"] or "-") + oui],
            ["Category", esc(d["category"]) + ("" if d["on_bench"] else " (not on the bench file)")],
            ["Model / firmware", f"{esc(d['model'] or '-')} / {esc(d['firmware'] or '-')}"],
            ["DHCP host name", esc(d["dhcp_hostname"] or "-")],
            [
                "DHCP vendor class / fingerprint",
                f"{esc(d['dhcp_vendor_class'] or '-')} / {code(d['dhcp_fingerprint'])}",
            ],
            ["mDNS names", esc(", ".join(d["mdns_names"]) or "-")],
            ["SSDP names", esc(", ".join(d["ssdp_names"]) or "-")],
            ["Addresses", code(", ".join(d["ipv4"] + d["ipv6"]))],
            [
                "Seen",
                f"{_ts(d['first_seen_ns'])} to {_ts(d['last_seen_ns'])} UTC, in {d['captures']} capture(s)",
            ],
            [
                "Traffic",
                f"{d['flows']} flows, {fmt_bytes(d['bytes_sent'])} sent, "
                f"{fmt_bytes(d['bytes_received'])} received, {d['remotes']} remote addresses",
            ],
        ],
    )
    lines += ["## 3. Test scenario and phases · 测试场景与阶段", ""]
    if not any(p["start_ns"] for p in data.phases):
        lines += ["No phases were marked for this capture (replay with `--phases`).", ""]
    lines += _table(
        [
            "Phase",
            "Start (UTC)",
            "End (UTC)",
            "Duration",
            "Note",
            "Flows",
            "Sent",
            "PI values",
            "Data types sent",
        ],
        [
            [
                esc(p["phase"]) + (f" ({code(p['capture_id'][:12])})" if multi else ""),
                _ts(p["start_ns"]),
                _ts(p["end_ns"]),
                fmt_secs(p["duration_s"]),
                esc(p["note"]),
                str(p["flows"]),
                fmt_bytes(p["bytes_sent"]),
                str(p["observations"]),
                esc(", ".join(p["data_types"])),
            ]
            for p in data.phases
        ],
        right={3, 5, 6, 7},
    )
    lines += ["## 4. Captures, tools and rules · 采集文件、工具与规则", "", "### Capture files", ""]
    rows = []
    for c in data.captures:
        for f in c["files"]:
            rows.append(
                [
                    esc(f["file"]),
                    code(f["sha256"]),
                    str(c["packets"]),
                    fmt_bytes(c["bytes"]),
                    f"{_ts(c['first_ns'])}<br>{_ts(c['last_ns'])} ({fmt_secs(c['duration_s'])})",
                    esc(", ".join(c["link_types"])),
                    f"yes: {esc(c['read_error'])}" if c["truncated"] else "no",
                ]
            )
    lines += _table(
        ["File", "sha256", "Packets", "Bytes", "First / last packet (UTC)", "Link types", "Truncated"],
        rows,
        right={2, 3},
    )
    lines += ["### Tool, databases and rules", ""]
    kv = [["tapaudit (this report)", esc(data.tool_version)]]
    for a in pv["assessments"]:
        kv.append(
            [
                f"Assessment {esc(a['assessed_at'])} UTC"
                + (f" ({code(a['capture_id'][:12])})" if multi else ""),
                f"rules sha256 {code(a['rules_sha256'])}<br>declaration sha256 "
                f"{code(a['declaration_sha256']) if a['declaration_sha256'] else 'none given'}",
            ]
        )
    kv += [
        [
            "IP-to-country / ASN database",
            f"{esc('; '.join(pv['geoip_db']) or '-')}<br>version "
            f"{esc('; '.join(pv['geoip_version']) or '-')}",
        ],
        ["Organisation catalogue", esc(", ".join(pv["catalog_version"]) or "-")],
        ["Public suffix list", esc(", ".join(pv["psl_version"]) or "-")],
        ["Bench file sha256", code(", ".join(pv["bench_sha256"]))],
        ["Phases file sha256", code(", ".join(pv["phases_sha256"]))],
        [
            "Values",
            "stored as sent (raw evidence); masked in this report"
            if pv["raw_evidence"]
            else "masked before storage; this report shows masked excerpts only",
        ],
    ]
    lines += _table(["Item", "Value"], kv)
    lines += ["### Rule packs · 规则包", ""]
    if pv["packs"]:
        lines += _table(
            ["Pack", "Version", "Title", "Rules", "File sha256"],
            [
                [esc(p["pack"]), esc(p["version"]), esc(p["title"]), str(p["rules"]), code(p["sha256"])]
                for p in pv["packs"]
            ],
            right={3},
        )
        if not pv["packs_verified"]:
            lines += ["The pack files have changed since the assessment (section 8).", ""]
    else:
        lines += ["None: the captures have not been assessed.", ""]
    lines += ["## 5. Findings · 检测发现", ""]
    if data.findings:
        lines += _table(
            ["#", "Severity", "Rule", "Req.", "Statement", "First (UTC)"],
            [
                [str(i), f"**{esc(f['severity'])}**", esc(f["rule_id"]), esc(", ".join(f["requirements"])),
                 esc(f["statement"]), _ts(f["first_ns"])]
                for i, f in enumerate(data.findings, 1)
            ],
            right={0},
        )  # fmt: skip
    for i, f in enumerate(data.findings, 1):
        title = f"### {i}. {esc(f['severity'])}: {esc(f['rule_id'])} {esc(f['title'])} {esc(f['title_zh'])}"
        lines += [title.rstrip(), ""]
        lines += [esc(f["statement"]), ""]
        if f["statement_zh"]:
            lines += [esc(f["statement_zh"]), ""]
        flows = ", ".join(str(x) for x in f["flow_ids"][:40]) + (" …" if len(f["flow_ids"]) > 40 else "")
        fig_rows = [[esc(k), esc(figure_text(v))] for k, v in sorted(f["figures"].items()) if k != "subject"]
        fig_rows += [
            [
                "Evidence",
                f"{f['observations']} observations, from {_ts(f['first_ns'])} to {_ts(f['last_ns'])} UTC",
            ],
            [f"Flows ({len(f['flow_ids'])})", code(flows)],
            ["Masked excerpts", " · ".join(code(e) for e in f["excerpts"]) or "-"],
            [
                "Finding id",
                code(f["finding_id"]) + (f" (capture {code(f['capture_id'][:12])})" if multi else ""),
            ],
        ]
        lines += _table(["Figure", "Value"], fig_rows)
        cites = f"; cites {esc('; '.join(f['clauses']))}" if f["clauses"] else ""
        lines += [
            f"> **Clause:** rule {esc(f['rule_id'])} ({esc(f['pack'])} {esc(f['pack_version'])}) implements "
            f"{esc(', '.join(f['requirements']))}{cites}.<br>{esc(f['explain'])}"
            + (f"<br>{esc(f['explain_zh'])}" if f["explain_zh"] else ""),
            "",
        ]
    if not data.findings:
        lines += [
            (
                "No findings were raised by the rule packs that ran."
                if pv["assessments"]
                else "No findings: the captures have not been assessed (section 8)."
            )
            + " 未发现问题。",
            "",
        ]
    lines += ["## 6. Personal data observed · 观察到的个人信息", ""]
    if data.data_types:
        lines += _table(
            [
                "Data type",
                "Values / messages",
                "Median / min interval",
                "Precision",
                "Recipients",
                "Phases",
                "Found in (masked excerpt)",
            ],
            [
                [
                    esc(t["data_type"]),
                    f"{t['observations']} / {t['reports']}",
                    f"{fmt_secs(t['median_interval_s'])} / {fmt_secs(t['min_interval_s'])}",
                    f"{t['max_decimals']} decimals ({t['best_metres']:g} m)"
                    if t["max_decimals"] >= 0
                    else "-",
                    esc(", ".join(t["organisations"]) or "-"),
                    esc(", ".join(t["phases"])),
                    "<br>".join(
                        f"{esc(w['carrier'])} {code(w['path'])} ×{w['observations']}: {code(w['excerpt'])} → "
                        f"{esc(', '.join(w['destinations']))}"
                        for w in t["found_in"]
                    ),
                ]
                for t in data.data_types
            ],
            right={1, 2},
        )
    else:
        lines += ["No personal data was found in what the device sent in readable protocols.", ""]
    lines += chart("intervals") + chart("timeline")
    if data.measures:
        lines += ["### Measures by recipient and phase · 按接收方和阶段的度量", ""]
        lines += _table(
            [
                "Data type",
                "Recipient",
                "Phase",
                "Reports",
                "Per hour",
                "Median gap",
                "Min gap",
                "Longest run",
                "Precision",
                "Encrypted / abroad / 3rd party",
            ],
            [
                [
                    esc(m["data_type"]),
                    esc(m["organisation"] or "-"),
                    esc(m["phase"]),
                    str(m["reports"]),
                    f"{m['reports_per_hour']:g}",
                    fmt_secs(m["median_interval_s"]),
                    fmt_secs(m["min_interval_s"]),
                    fmt_secs(m["longest_run_s"]),
                    f"{m['max_decimals']} dp ({m['best_metres']:g} m)" if m["max_decimals"] >= 0 else "-",
                    " / ".join(
                        f"{m[k]:.0%}" for k in ("encrypted_share", "cross_border_share", "third_party_share")
                    ),
                ]
                for m in data.measures
            ],
            right={3, 4, 5, 6, 7, 9},
        )
    lines += ["## 7. Destinations · 数据去向", "", *chart("destinations")]
    lines += _table(
        [
            "Destination",
            "Organisation (kind)",
            "Party",
            "Country",
            "Encryption",
            "Flows",
            "Sent / received",
            "First / last (UTC)",
        ],
        [
            [
                esc(x["destination"]),
                esc(x["organisation"] or (f"AS: {x['as_org']}" if x["as_org"] else "-"))
                + (f" ({esc(x['kind'])})" if x["kind"] else ""),
                esc(x["party"]),
                esc(", ".join(x["countries"]) or "-") + (" **abroad**" if x["cross_border"] else ""),
                esc(", ".join(x["security"])) + (" (read)" if x["readable"] else ""),
                str(x["flows"]),
                f"{fmt_bytes(x['bytes_up'])} / {fmt_bytes(x['bytes_down'])}",
                f"{_ts(x['first_ns'])}<br>{_ts(x['last_ns'])}",
            ]
            for x in data.destinations
        ],
        right={5, 6},
    )
    lines += ["## 8. What could not be assessed · 无法评估的内容", ""]
    lines += [f"- {inline(i['text'])}" for i in data.not_assessed] or [
        "Everything the packs look at could be measured."
    ]
    lines += [""]
    if data.unreadable:
        lines += ["### Flows that could not be read · 无法解读的流量", ""]
        lines += _table(
            [
                "Destination",
                "Organisation",
                "Party",
                "Country",
                "Protection",
                "Flows",
                "Sent / received",
                "Period",
                "First / last (UTC)",
            ],
            [
                [
                    esc(u["destination"]),
                    esc(u["organisation"] or "-"),
                    esc(u["party"]),
                    esc(", ".join(u["countries"]) or "-"),
                    esc(", ".join(u["security"])),
                    str(u["flows"]),
                    f"{fmt_bytes(u['bytes_up'])} / {fmt_bytes(u['bytes_down'])}",
                    fmt_secs(u["period_s"]) if u["period_s"] else "none",
                    f"{_ts(u['first_ns'])}<br>{_ts(u['last_ns'])}",
                ]
                for u in data.unreadable
            ],
            right={5, 6, 7},
        )
        lines += [
            "Period: the reporting period of the encrypted beats to that destination, from burst timing "
            "alone (`tapaudit periods`); \u201cnone\u201d when the traffic is not periodic.",
            "",
        ]
    if data.uploads:
        lines += ["### Encrypted upload bursts · 加密上传", ""]
        lines += _table(
            ["Start (UTC)", "Destination", "Phase", "Sent", "Duration", "Probably", "Why"],
            [
                [
                    _ts(u["start_ns"]),
                    esc(u["destination"]),
                    esc(u["phase"]),
                    fmt_bytes(u["bytes_up"]),
                    fmt_secs(u["seconds"]),
                    f"{esc(u['kind'])} ({esc(u['confidence'])})",
                    esc(u["reason"]),
                ]
                for u in data.uploads
            ],
            right={3, 4},
        )
    lines += [
        "## 9. Method · 方法说明",
        "",
        METHOD,
        "",
        f"*tapaudit {esc(data.tool_version)} · report schema {esc(data.schema)} · device {code(d['mac'])} · "
        f"generated {esc(data.generated_at)}*",
        "",
    ]
    return "\n".join(lines), files
