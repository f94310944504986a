"""The report's document built from its gathered data: each section once, for every format.

Sections 1 to 5 (verdicts, device, phases, evidence, findings) are here; what the device sent
(personal data, destinations, what could not be read) is in ``view_traffic``.
"""

from __future__ import annotations

from typing import Any

from appliance.format import fmt_bool, fmt_bytes, fmt_duration, time_col, zone_name, zone_note
from appliance.report import confirm, view_issue, view_traffic
from appliance.report.data import ReportData
from appliance.report.document import (
    BR,
    Block,
    FindingCard,
    Heading,
    Paragraph,
    ReportView,
    Run,
    Runs,
    Section,
    Table,
    col,
    figure_text,
    ident,
    nl,
    secs,
    span,
    text,
    ts,
)
from policies.verdicts import SEVERITIES, VERDICTS, label
from policies.wording import plural

TITLE, TITLE_ZH = "Personal-data traffic test report", "个人信息流量测试报告"
METHOD = (
    "The captures were replayed by tapaudit: packets into flows, flows decoded (DNS, TLS, QUIC, HTTP, "
    "MQTT, CoAP, RTSP...), destinations named from the organisation catalogue and the IP databases above, "
    "and what the device sent in readable protocols scanned for personal data. Values are kept as keyed "
    "hashes and masked excerpts. Intervals are the times between messages carrying the same data type to "
    "the same organisation. The rule packs judge those measures per device; their files' hashes identify "
    "exactly the rules that ran."
)
METHOD_ZH = (
    "采集文件由 tapaudit 重放：数据包组成数据流，数据流按协议解码"
    "（DNS、TLS、QUIC、HTTP、MQTT、CoAP、RTSP 等），目的地依据组织目录和上述 IP 数据库命名，"
    "设备以可读协议发送的内容经扫描识别个人信息。各值仅以带密钥的哈希和遮蔽后的摘录保存。"
    "间隔是指携带同一数据类型发往同一组织的消息之间的时间。规则包按设备评判这些测量结果；"
    "规则包文件的哈希值确切标识所运行的规则。"
)


def method(data: ReportData, lang: str) -> list[Block]:
    """The method paragraph in the report's language(s), with the time zone the times are in
    (the lab's, ``appliance.format``) and its offsets from UTC over the captures."""
    times = [int(c[k]) for c in data.captures for k in ("first_ns", "last_ns") if c[k]]
    zone = zone_note(times)
    en = f"{METHOD} Times are {'UTC' if zone == 'UTC' else 'in the laboratory time zone, ' + zone}."
    zh = METHOD_ZH + ("时间均为 UTC。" if zone == "UTC" else f"时间均为实验室所在时区（{zone}）。")
    paras = {"en": [en], "zh": [zh], "both": [en, zh]}[lang if lang in ("en", "zh") else "both"]
    return [Paragraph(text(p)) for p in paras]


def build(data: ReportData, lang: str = "both") -> ReportView:
    """The report's document, from its gathered data; headings and labels in ``lang`` (en, zh, both)."""
    d = data.device
    multi = len(data.captures) > 1
    sections = [
        Section("summary", 1, "Summary verdict per requirement", "各项要求结论", summary(data, lang)),
        Section("device", 2, "Device under test", "被测设备", [device_table(d)]),
        Section("scenario", 3, "Test scenario and phases", "测试场景与阶段", phases(data, multi)),
        Section("evidence", 4, "Captures, tools and rules", "采集文件、工具与规则",
                evidence(data, multi)),
        Section("findings", 5, "Findings", "检测发现", findings(data, multi, lang)),
        Section("data", 6, "Personal data observed", "观察到的个人信息", view_traffic.personal_data(data)),
        Section("destinations", 7, "Destinations", "数据去向", view_traffic.destinations(data)),
        Section("not-assessed", 8, "What could not be assessed", "无法评估的内容",
                view_traffic.not_assessed(data)),
        Section("method", 9, "Method", "方法说明", method(data, lang)),
        Section("appendix", 10, "Appendix: the evidence packets as Wireshark reads them",
                "附录：Wireshark 解读的证据数据包", confirm.appendix(data.findings)),
        Section("approval", 11, "Approval and signatures", "批准与签字",
                view_issue.approval(data.issue, lang)),
    ]  # fmt: skip
    return ReportView(
        title=TITLE,
        title_zh=TITLE_ZH,
        head=f"{d['name']} ({d['mac']})" if d["name"] else str(d["mac"]),
        subtitle=[
            Run(str(d["name"] or d["mac"])),
            Run(" · "),
            *ident(d["mac"]),
            Run(f" · {d['category']} · generated {data.generated_at} by tapaudit {data.tool_version}"),
        ],
        sections=sections,
        footer=[
            Run(f"tapaudit {data.tool_version} · report schema {data.schema} · device "),
            *ident(d["mac"]),
            Run(f" · generated {data.generated_at}"),
        ],
        generated_at=data.generated_at,
        tool_version=data.tool_version,
        front=view_issue.front(data.issue, lang),
        lang=lang,
    )


def summary(data: ReportData, lang: str = "both") -> list[Block]:
    """The verdict per requirement on its own scale (fail, review, pass, not assessed), and beside
    it the worst severity of its findings: a risk level never stands in for a verdict."""
    sev = [f["severity"] for f in data.findings]
    counts = ", ".join(f"{sev.count(s)} {s}" for s in SEVERITIES if s in sev)
    verdicts = [q["verdict"] for q in data.requirements]
    line = (
        plural(len(sev), "finding")
        + (f" ({counts})" if counts else "")
        + f"; {plural(len(verdicts), 'requirement')}: "
        + ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS)
        + "."
    )
    rows = [
        [
            text(q["id"]),
            bilingual(q["title"], q["title_zh"], lang),
            [Run(q["verdict"], "badge"), nl(" "), Run(label(q["verdict"], "zh"), "muted")],
            [Run(q["severity"], "badge"), nl(" "), Run(label(q["severity"], "zh"), "muted")]
            if q["severity"] else text("-"),
            text(q["findings"]),
            [*bilingual(q["note"], q.get("note_zh", ""), lang, "prose"), *rules_named(q["rules"])],
        ]
        for q in data.requirements
    ]  # fmt: skip
    columns = [
        col("Req.", cls="nw"),
        col("Requirement"),
        col("Verdict"),
        col("Worst finding"),
        col("Findings", right=True),
        col("Basis"),
    ]
    checked = [Paragraph([Run(confirm.count_line(data.findings), "prose")])] if data.findings else []
    return [Paragraph(text(line)), *checked, Table(columns, rows)]


def bilingual(en: str, zh: str, lang: str, kind: str = "text") -> Runs:
    """A requirement's text in the report's language: English, Chinese, or both (Chinese muted
    under it); English where there is no Chinese."""
    if lang == "en" or not zh:
        return [Run(en, kind)]
    if lang == "zh":
        return [Run(zh, kind)]
    return [Run(en, kind), BR, Run(zh, "muted" if kind == "text" else kind)]


def rules_named(rules: list[str]) -> Runs:
    return [BR, Run(f"rules: {', '.join(rules)}", "muted")] if rules else []


# How the device was found (devices.attributed_by), as the report explains it.
FOUND_BY = {
    "mac": "its MAC address, in its own frames",
    "bench-address": "its address, which the bench file names for it (the capture has no MAC)",
    "dhcp-lease": "its address, which a DHCP lease gave its MAC (the capture has no MAC for it)",
    "ndp": "its address, which its MAC claimed in IPv6 neighbour discovery",
    "arp": "its address, which its MAC claimed in ARP",
    "local-address": "its LAN address alone: the capture names no MAC for it, and the key above is"
    " made from the address",
}


def device_table(d: dict[str, Any]) -> Table:
    def aside(note: str) -> Runs:
        return [Run(" "), Run(note, "muted")]

    oui = aside(f"(OUI: {d['oui_vendor']})") if d["oui_vendor"] and d["oui_vendor"] != d["vendor"] else []
    rows = [
        [text("MAC address"), ident(d["mac"])],
        [text("Found by"), text(FOUND_BY.get(str(d["attributed_by"]), str(d["attributed_by"])))],
        [text("Name"), text(d["name"] or "-")],
        [text("Vendor"), text(d["vendor"] or "-") + oui],
        [text("Category"), text(d["category"]) + ([] if d["on_bench"] else aside("(not on the bench file)"))],
        [text("Model / firmware"), text(f"{d['model'] or '-'} / {d['firmware'] or '-'}")],
        [text("DHCP host name"), text(d["dhcp_hostname"] or "-")],
        [
            text("DHCP vendor class / fingerprint"),
            [Run(f"{d['dhcp_vendor_class'] or '-'} / "), *ident(d["dhcp_fingerprint"] or "")],
        ],
        [text("mDNS names"), text(", ".join(d["mdns_names"]) or "-")],
        [text("SSDP names"), text(", ".join(d["ssdp_names"]) or "-")],
        [text("Addresses"), ident(", ".join(d["ipv4"] + d["ipv6"]))],
        [
            text("Seen"),
            text(
                f"{ts(d['first_seen_ns'])} to {ts(d['last_seen_ns'])} {zone_name()}, "
                f"in {d['captures']} capture(s)"
            ),
        ],
        [
            text("Traffic"),
            text(
                f"{d['flows']} flows, {fmt_bytes(d['bytes_sent'])} sent, "
                f"{fmt_bytes(d['bytes_received'])} received, {d['remotes']} remote addresses"
            ),
        ],
    ]
    return Table([col("Field"), col("Value")], rows, cls="kv")


def phases(data: ReportData, multi: bool) -> list[Block]:
    blocks: list[Block] = []
    if not any(p["start_ns"] for p in data.phases):
        blocks.append(
            Paragraph(
                [Run("No phases were marked for this capture (replay with `--phases`): everything counts "
                     "as one unmarked period.", "prose")],
                muted=True,
            )
        )  # fmt: skip
    columns = [
        col("Phase"), col(time_col("Start"), cls="t"), col(time_col("End"), cls="t"),
        col("Duration", right=True),
        col("Note"), col("Flows", right=True), col("Sent", right=True), col("PI values", right=True),
        col("Data types sent", cls="dom", width="30%"),
    ]  # fmt: skip
    rows = [
        [
            text(p["phase"]) + (in_capture(p["capture_id"]) if multi else []),
            text(ts(p["start_ns"])),
            text(ts(p["end_ns"])),
            text(secs(p["duration_s"])),
            text(p["note"]),
            text(p["flows"]),
            text(fmt_bytes(p["bytes_sent"])),
            text(p["observations"]),
            text(", ".join(p["data_types"])),
        ]
        for p in data.phases
    ]
    return [*blocks, Table(columns, rows, cls="dense")]


def in_capture(capture_id: str) -> Runs:
    """Which capture a row is from, where the report covers several."""
    return [Run(" ("), Run(capture_id[:12], "id"), Run(")")]


def evidence(data: ReportData, multi: bool) -> list[Block]:
    pv = data.provenance
    blocks: list[Block] = [
        Heading("Capture files"),
        capture_files(data),
        Heading("Tool, databases and rules"),
    ]
    version: Runs = text(data.tool_version)
    if pv["ingested_with"] and pv["ingested_with"] != [data.tool_version]:
        version += [Run(" "), Run(f"(captures ingested with {', '.join(pv['ingested_with'])})", "muted")]
    kv: list[list[Runs]] = [[text("tapaudit (this report)"), version]]
    for a in pv["assessments"]:
        declared = ident(a["declaration_sha256"]) if a["declaration_sha256"] else text("none given")
        kv.append(
            [
                text(f"Assessment {a['assessed_at']} {zone_name()}")
                + (in_capture(a["capture_id"]) if multi else []),
                [Run("rules sha256 "), *ident(a["rules_sha256"]), BR, Run("declaration sha256 "), *declared],
            ]
        )
    values = (
        "stored as sent at the user's request (raw evidence); masked in this report"
        if pv["raw_evidence"]
        else "masked before storage; this report shows masked excerpts only"
    )
    kv += [
        [
            text("IP location, registry and ASN databases"),
            [Run("; ".join(pv["geoip_db"]) or "-"), BR, Run("version", "muted"),
             Run(" " + ("; ".join(pv["geoip_version"]) or "-"))],
        ],
        [text("Organisation catalogue"), text(", ".join(pv["catalog_version"]) or "-")],
        [text("Public suffix list"), text(", ".join(pv["psl_version"]) or "-")],
        [text("Bench file sha256"), ident(", ".join(pv["bench_sha256"]))],
        [text("Phases file sha256"), ident(", ".join(pv["phases_sha256"]))],
        [text("Values"), text(values)],
    ]  # fmt: skip
    blocks += [Table([col("Item"), col("Value")], kv, cls="kv"), Heading("Rule packs", "规则包")]
    if not pv["packs"]:
        return [*blocks, Paragraph(text("None: the captures have not been assessed."), muted=True)]
    columns = [col("Pack", cls="nw"), col("Version", cls="nw"), col("Title"), col("Rules", right=True),
               col("File sha256", cls="id", width="34%")]  # fmt: skip
    rows = [
        [text(p["pack"]), text(p["version"]), text(p["title"]), text(p["rules"]), ident(p["sha256"])]
        for p in pv["packs"]
    ]
    blocks.append(Table(columns, rows, cls="dense"))
    if not pv["packs_verified"]:
        blocks.append(
            Paragraph(text("The pack files have changed since the assessment (section 8)."), muted=True)
        )
    return blocks


def capture_files(data: ReportData) -> Table:
    """One row per file; a capture's figures on its first file, and its id under files read as one."""
    rows: list[list[Runs]] = []
    for c in data.captures:
        for i, f in enumerate(c["files"]):
            first = i == 0
            rows.append(
                [
                    text(f["file"]),
                    ident(f["sha256"]),
                    text(c["packets"] if first else ""),
                    text(fmt_bytes(c["bytes"]) if first else ""),
                    [*span(c["first_ns"], c["last_ns"]), nl(" "), Run(f"({secs(c['duration_s'])})", "muted")]
                    if first
                    else [],
                    text(", ".join(c["link_types"]) if first else ""),
                    text((f"yes: {c['read_error']}" if c["truncated"] else "no") if first else ""),
                ]
            )
        if len(c["files"]) > 1:
            rows.append(
                [[Run("capture id ", "muted"), *ident(c["capture_id"]),
                  Run(" (sha256 of the files' sha256s)", "muted")]]
            )  # fmt: skip
    columns = [col("File"), col("sha256", cls="id"), col("Packets", right=True), col("Bytes", right=True),
               col(time_col("First / last packet")), col("Link types"), col("Truncated")]  # fmt: skip
    return Table(columns, rows)


def findings(data: ReportData, multi: bool, lang: str = "both") -> list[Block]:
    if not data.findings:
        done = data.provenance["assessments"]
        return [
            Paragraph(
                text(
                    (
                        "No findings were raised by the rule packs that ran."
                        if done
                        else "No findings: the captures have not been assessed (section 8)."
                    )
                    + " 未发现问题。"
                )
            )
        ]
    columns = [col("#", right=True), col("Severity"), col("Rule", cls="nw"), col("Req.", cls="nw"),
               col("Statement"), col(time_col("First"), cls="t")]  # fmt: skip
    rows = [
        [[Run(str(i), "anchor")], [Run(f["severity"], "badge")], text(f["rule_id"]),
         text(", ".join(f["requirements"])), text(statements(f, "zh" if lang == "zh" else "en")[0]),
         text(ts(f["first_ns"]))]
        for i, f in enumerate(data.findings, 1)
    ]  # fmt: skip
    return [
        Table(columns, rows, cls="dense"),
        *(finding_card(i, f, multi, lang) for i, f in enumerate(data.findings, 1)),
    ]


def of_capture(capture_id: str) -> Runs:
    return [Run(" (capture "), *ident(capture_id[:12]), Run(")")]


def figure(name: str, value: Any) -> tuple[str, str]:
    """A finding's figure as the reader takes it (``appliance.format``): a time in nanoseconds
    (``*_ns``) in the lab's zone, seconds (``*_s``) rounded, bytes in kB/MB, a flag as yes/no."""
    if name.endswith("_ns") and isinstance(value, int) and value > 0:
        return time_col(name.removesuffix("_ns")), ts(value)
    if name.endswith("_s") and isinstance(value, int | float) and not isinstance(value, bool):
        return name.removesuffix("_s"), fmt_duration(float(value))
    if "bytes" in name and isinstance(value, int) and not isinstance(value, bool):
        return name, fmt_bytes(value)
    if isinstance(value, bool):
        return name, fmt_bool(value)
    return name, figure_text(value)


def statements(f: dict[str, Any], lang: str) -> list[str]:
    """A finding's statement in the report's language (English where it has no Chinese one)."""
    zh = [f["statement_zh"]] if f["statement_zh"] else []
    return zh or [f["statement"]] if lang == "zh" else [f["statement"]] + ([] if lang == "en" else zh)


def finding_card(i: int, f: dict[str, Any], multi: bool, lang: str = "both") -> FindingCard:
    """A finding in full: its statement, figures, evidence and the clause its rule implements."""
    n = len(f["flow_ids"])
    named = f.get("flows") or []
    ids = ", ".join(str(x) for x in f["flow_ids"][:40]) + (f" … (+{n - 40})" if n > 40 else "")
    flows = view_issue.flow_runs(named) if named else ident(ids)
    excerpts: Runs = []
    for e in f["excerpts"]:
        excerpts += [Run(" · "), Run(e, "id")] if excerpts else [Run(e, "id")]
    rows = [
        [text("Evidence"),
         text(f"{f['observations']} observations, from {ts(f['first_ns'])} to {ts(f['last_ns'])} "
              f"{zone_name()}")],
        [text(f"Flows ({n})"), flows],
        [text("Masked excerpts"), excerpts or text("-")],
        [text("Wireshark's check"), confirm.outcome_runs(f["confirmation"])],
        [text("Finding id"), ident(f["finding_id"]) + (of_capture(f["capture_id"]) if multi else [])],
    ]  # fmt: skip
    cites = f"; cites {'; '.join(f['clauses'])}" if f["clauses"] else ""
    clause = [
        Run("Clause:", "strong"),
        Run(f" rule {f['rule_id']} ({f['pack']} {f['pack_version']}) implements "
            f"{', '.join(f['requirements'])}{cites}."),
        BR,
        Run(f["explain"]),
    ] + ([BR, Run(f["explain_zh"])] if f["explain_zh"] else [])  # fmt: skip
    return FindingCard(
        index=i,
        severity=f["severity"],
        rule_id=f["rule_id"],
        title=f["title"],
        title_zh=f["title_zh"],
        statements=statements(f, lang),
        figures=[figure(k, v) for k, v in sorted(f["figures"].items()) if k != "subject"],
        table=Table([col("Figure"), col("Value")], rows, cls="kv dense"),
        clause=clause,
    )
