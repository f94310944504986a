"""Sections 6 to 8 of the report's document: the personal data the device sent, where it went, and
what could not be read or judged (``appliance.report.view`` builds the rest)."""

from __future__ import annotations

from appliance.format import fmt_bytes, fmt_num, time_col
from appliance.report.data import ReportData
from appliance.report.document import (
    BR,
    Block,
    Bullets,
    Figure,
    Heading,
    Paragraph,
    Run,
    Runs,
    Table,
    col,
    nl,
    secs,
    span,
    stacked,
    text,
    ts,
)
from appliance.report.traffic import KEY_SOURCES

ABROAD = [Run(" "), Run("abroad", "strong")]


def figure(data: ReportData, chart_id: str) -> Figure:
    c = data.chart(chart_id)
    return Figure(c.id, c.title, f"{c.title}. {c.x_label}; {c.y_label}.", c.note, c.empty)


def precision(decimals: int, metres: float, unit: str) -> str:
    return f"{decimals} {unit} ({metres:g} m)" if decimals >= 0 else "-"


def personal_data(data: ReportData) -> list[Block]:
    blocks: list[Block] = []
    if data.data_types:
        columns = [
            col("Data type"),
            col([Run("Values /"), nl(" "), Run("messages")], right=True),
            col([Run("Median /"), nl(" "), Run("min interval")], right=True),
            col("Precision"),
            col("Recipients"),
            col("Phases"),
            col("Found in (masked excerpt)"),
        ]
        rows = []
        for t in data.data_types:
            found: Runs = []
            for w in t["found_in"]:
                found += [BR] if found else []
                found += [Run(f"{w['carrier']} "), Run(w["path"], "code"), Run(f" ×{w['observations']}: "),
                          Run(w["excerpt"], "code"), Run(f" → {', '.join(w['destinations'])}")]  # fmt: skip
            rows.append(
                [
                    text(t["data_type"]),
                    text(f"{t['observations']} / {t['reports']}"),
                    stacked(secs(t["median_interval_s"]), secs(t["min_interval_s"])),
                    text(precision(t["max_decimals"], t["best_metres"], "decimals")),
                    text(", ".join(t["organisations"]) or "-"),
                    text(", ".join(t["phases"])),
                    found,
                ]
            )
        blocks.append(Table(columns, rows))
    else:
        blocks.append(
            Paragraph(text("No personal data was found in what the device sent in readable protocols."))
        )
    blocks += [figure(data, "intervals"), figure(data, "timeline")]
    if data.measures:
        blocks += [Heading("Measures by recipient and phase", "按接收方和阶段的度量"), measures_table(data)]
    return blocks


def measures_table(data: ReportData) -> Table:
    columns = [
        col("Data type"), col("Recipient"), col("Phase"), col("Reports", right=True),
        col("Per hour", right=True), col("Median gap", right=True), col("Min gap", right=True),
        col("Longest run", right=True), col("Precision"), col("Encrypted / abroad / 3rd party", right=True),
    ]  # fmt: skip
    rows = [
        [
            text(m["data_type"]),
            text(m["organisation"] or "-"),
            text(m["phase"]),
            text(m["reports"]),
            text(fmt_num(m["reports_per_hour"])),
            text(secs(m["median_interval_s"])),
            text(secs(m["min_interval_s"])),
            text(secs(m["longest_run_s"])),
            text(precision(m["max_decimals"], m["best_metres"], "dp")),
            text(
                " / ".join(
                    f"{m[k]:.0%}" for k in ("encrypted_share", "cross_border_share", "third_party_share")
                )
            ),
        ]
        for m in data.measures
    ]
    return Table(columns, rows, cls="dense")


def destinations(data: ReportData) -> list[Block]:
    columns = [
        col("Destination", cls="dom", width="26%"), col("Organisation (kind)"), col("Party"), col("Country"),
        col("Encryption"), col("Flows", right=True), col("Sent / received", right=True),
        col(time_col("First / last"), cls="t"),
    ]  # fmt: skip
    rows = [
        [
            text(x["destination"]),
            text((x["organisation"] or (f"AS: {x['as_org']}" if x["as_org"] else "-"))
                 + (f" ({x['kind']})" if x["kind"] else "")),
            text(x["party"]),
            text(", ".join(x["countries"]) or "-") + (ABROAD if x["cross_border"] else []),
            text(", ".join(x["security"]) + (" (read)" if x["readable"] else "")),
            text(x["flows"]),
            stacked(fmt_bytes(x["bytes_up"]), fmt_bytes(x["bytes_down"])),
            span(x["first_ns"], x["last_ns"]),
        ]
        for x in data.destinations
    ]  # fmt: skip
    table = Table(columns, rows, cls="dense", empty="The device sent nothing off the LAN.")
    return [figure(data, "destinations"), table]


def not_assessed(data: ReportData) -> list[Block]:
    blocks: list[Block] = [
        Bullets(
            [
                [Run(i["text"], "prose"), *([Run(i["data"], "code")] if i.get("data") else [])]
                for i in data.not_assessed
            ]
        )  # data: traffic text (a Wireshark difference), literal
        if data.not_assessed
        else Paragraph(text("Everything the packs look at could be measured."))
    ]
    blocks += coverage(data)
    blocks += interception(data)
    if data.unreadable:
        blocks += [Heading("Flows that could not be read", "无法解读的流量"), unreadable_table(data)]
        blocks.append(
            Paragraph(
                [Run("Period: the reporting period of the encrypted beats to that destination, from burst "
                     "timing alone (`tapaudit periods`); \u201cnone\u201d when the traffic is not periodic.",
                     "prose")],
                muted=True,
            )
        )  # fmt: skip
    if data.uploads:
        columns = [
            col(time_col("Start"), cls="t"), col("Destination", cls="dom"), col("Phase"),
            col("Sent", right=True), col("Duration", right=True), col("Probably"), col("Why"),
        ]  # fmt: skip
        rows = [
            [
                text(ts(u["start_ns"])),
                text(u["destination"]),
                text(u["phase"]),
                text(fmt_bytes(u["bytes_up"])),
                text(secs(u["seconds"])),
                text(f"{u['kind']} ({u['confidence']} {u['score']:.2f})"),
                text(u["reason"]),
            ]
            for u in data.uploads
        ]
        blocks += [Heading("Encrypted upload bursts", "加密上传"), Table(columns, rows)]
    return blocks


def coverage(data: ReportData) -> list[Block]:
    """How much of the device's encrypted traffic was read with session keys (issue 16); nothing
    when it sent none."""
    c = data.coverage
    if not c or not c["encrypted_flows"]:
        return []
    columns = [col("Encrypted traffic off the LAN"), col("Flows", right=True), col("Bytes", right=True),
               col("Share of bytes", right=True)]  # fmt: skip
    total = c["encrypted_bytes"] or 1
    rows = [
        [text(what), text(c[f"{key}_flows"]), text(fmt_bytes(c[f"{key}_bytes"])),
         text(f"{c[f'{key}_bytes'] / total:.0%}")]
        for what, key in (("Encrypted", "encrypted"), ("Decrypted with session keys", "decrypted"),
                          ("Still unread (no keys)", "unread"))
    ]  # fmt: skip
    blocks: list[Block] = [Heading("Encrypted traffic read", "加密流量解读情况"), Table(columns, rows)]
    if c["key_sources"]:
        named = ", ".join(KEY_SOURCES.get(k, k) for k in c["key_sources"])
        files = "; ".join(
            f"{f['path']} (sha256 {f['sha256'][:16]}, {f['lines']} lines)" for f in c["key_files"]
        )
        named += f" ({files})" if files else ""
        blocks.append(
            Paragraph(
                [Run(f"Keys from: {named}. Decrypted flows are read and judged as clear ones are; only "
                     "the unread ones are listed below.", "prose")],
                muted=True,
            )
        )  # fmt: skip
    return blocks


INTERCEPT_TESTS = (
    ("self-signed", "Self-signed"),
    ("wrong-host", "Other host"),
    ("untrusted-ca", "Untrusted CA"),
    ("expired", "Expired"),
    ("leaf-as-ca", "Leaf as CA"),
    ("legacy-tls", "TLS 1.0/1.1 only"),
)
INTERCEPT_NOTE = (
    "Each connection to a server name was answered in turn with a forged certificate or a TLS "
    "1.0/1.1-only server by the lab gateway's interceptor (tapaudit intercept); accepted: the device sent "
    "application data over it; refused: an alert, a reset or no data. After the tests the device's "
    "connections were decrypted where it accepted a forged certificate (read through the interceptor, "
    "tls-intercept), and passed through untouched where it refused them all."
)


def interception(data: ReportData) -> list[Block]:
    """The certificate-validation tests of the lab gateway's interceptor, one row per server name
    the device asked for (issue 19); nothing when the capture ran without the interceptor."""
    if not data.tls_tests:
        return []
    columns = [col("Server name", cls="dom", width="26%"), *(col(h) for _k, h in INTERCEPT_TESTS),
               col("Tests", right=True)]  # fmt: skip
    rows = [[text(m["server_name"]), *(text(m[k] or "-") for k, _h in INTERCEPT_TESTS), text(m["tests"])]
            for m in data.tls_tests]  # fmt: skip
    return [
        Heading("Certificate-validation tests", "证书校验测试"),
        Table(columns, rows, cls="dense"),
        Paragraph([Run(INTERCEPT_NOTE, "prose")], muted=True),
    ]


def unreadable_table(data: ReportData) -> Table:
    columns = [
        col("Destination", cls="dom", width="26%"), col("Organisation"), col("Party"), col("Country"),
        col("Protection"), col("Flows", right=True), col("Sent / received", right=True),
        col("Period", right=True), col(time_col("First / last"), cls="t"),
    ]  # fmt: skip
    rows = [
        [
            text(u["destination"]),
            text(u["organisation"] or "-"),
            text(u["party"]),
            text(", ".join(u["countries"]) or "-"),
            text(", ".join(u["security"])),
            text(u["flows"]),
            stacked(fmt_bytes(u["bytes_up"]), fmt_bytes(u["bytes_down"])),
            text(secs(u["period_s"]) if u["period_s"] else "none"),
            span(u["first_ns"], u["last_ns"]),
        ]
        for u in data.unreadable
    ]
    return Table(columns, rows, cls="dense")
