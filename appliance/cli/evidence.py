"""The evidence commands: the packets behind a finding, and what changed between two captures."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.tree import Tree

from appliance.cli.common import (
    DbOpt,
    DeviceOpt,
    Fail,
    JsonOpt,
    fmt_bytes,
    fmt_count,
    fmt_secs,
    fmt_ts,
    mac_opt,
    open_db,
    out,
    print_json,
    safe,
    table,
    time_col,
)
from appliance.cli.findings import _captures
from appliance.findings.confirm import confirm_all
from appliance.findings.evidence import EvidenceError, ExportResult, export, find
from appliance.findings.tshark_read import TsharkError
from appliance.format import zone_name
from appliance.report.diff import DiffError, compare
from appliance.store.queries.findings import confirmations

PROTOS = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmp6"}


def evidence_cmd(
    finding_id: Annotated[
        str, typer.Argument(help="Finding id (or a unique prefix), see `tapaudit findings`.")
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--output",
            help="File to write: pcap, or pcapng when the capture mixes link types or the name ends .pcapng.",
        ),
    ] = None,
    keylog_out: Annotated[
        str | None,
        typer.Option(
            "--keylog-out",
            help="Also write the TLS key log lines that decrypt exactly these flows to this file "
            "(Wireshark: tls.keylog_file). Secret: handle as the lab's keys.",
        ),
    ] = None,
    dsb: Annotated[
        bool,
        typer.Option("--dsb", help="Write a pcapng holding those key lines in a Decryption Secrets Block."),
    ] = False,
    dissect: Annotated[
        bool,
        typer.Option(
            "--dissect",
            help="Have Wireshark (tshark) dissect the packets: the packet list, the fields that matter "
            "(masked) and whether they show what the finding states; the check is stored.",
        ),
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write exactly the packets behind a finding (its flows, both directions) to a capture file;
    with --dissect, show them as Wireshark dissects them and check the finding against them."""
    if not output and not dissect:
        raise Fail("give -o FILE to write the packets, or --dissect to see them as Wireshark reads them")
    with open_db(db) as store:
        try:
            res = export(store, finding_id, output, keylog_out, dsb) if output else None
            if dissect:
                confirm_all(store, [finding_id], processes=1)
                fid = str(find(store, finding_id)["finding_id"])
                doc = confirmations(store, finding_id=fid)[0]
        except (EvidenceError, TsharkError) as exc:
            raise Fail(str(exc)) from None
    if dissect:
        for k in ("checks", "packets", "tree"):
            doc[k] = json.loads(str(doc[k]) or "[]")
        if as_json:
            print_json({"export": res.as_dict() if res else None, "wireshark": doc})
            return
        if res:
            _print_export(res, output or "")
        print_dissection(doc)
        return
    assert res is not None and output
    if as_json:
        print_json(res.as_dict())
        return
    _print_export(res, output)


def _print_export(res: ExportResult, output: str) -> None:
    shown = escape(safe(output))  # a file name is neither markup nor terminal control
    out.print(
        f"wrote {shown} ({res.format}, {res.packets:,} packets, {fmt_bytes(res.bytes)}) for finding "
        f"{res.finding_id} ({res.rule_id}, {res.device_mac})"
    )
    out.print(f"sha256 {res.sha256}")
    if res.key_lines:
        where = res.keylog_path or "its decryption secrets block"
        out.print(f"{res.key_lines} TLS key line(s) for these flows in {escape(safe(where))}")
    if res.tls_without_key:
        out.print(f"[yellow]{res.tls_without_key} TLS handshake(s) of these flows have no key[/]")
    t = table(
        "Flows",
        (
            "#",
            "Proto",
            "Initiator",
            "Responder",
            "VLAN",
            "Destination",
            time_col("First"),
            time_col("Last"),
            "Packets",
            "Frames",
        ),
    )
    for i, f in enumerate(res.flows, 1):  # named by time and destination; --json has the flow ids
        t.add_row(
            str(i),
            PROTOS.get(f.proto, str(f.proto)),
            _end(f.src_ip, f.src_port),
            _end(f.dst_ip, f.dst_port),
            str(f.vlan or "-"),
            f.destination,
            fmt_ts(f.first_ns),
            fmt_ts(f.last_ns),
            f"{f.matched:,}" + ("" if f.complete else f" of {f.pkts:,}"),
            f"{f.frames:,}",
        )
    out.print(t)
    if not res.complete:
        short = sum(not f.complete for f in res.flows)
        out.print(f"[bold]warning:[/bold] {short} flow(s) short of their recorded packet count")


def print_dissection(doc: dict[str, Any]) -> None:
    """The packet list, the fields that matter and the checks, as a stored confirmation has them."""
    cols = ("No.", "Time (UTC)", "Source", "Destination", "Protocol", "Length", "Info")
    t = table("Packets (tshark)", cols)
    for p in doc["packets"]:
        t.add_row(
            str(p["frame"]), p["time"], safe(p["src"]), safe(p["dst"]), safe(p["protocol"]),
            str(p["length"]), safe(p["info"]),
        )  # fmt: skip
    out.print(t)
    for entry in doc["tree"]:
        tree = Tree(f"Frame {entry['frame']}")
        for node in entry["fields"]:
            _branch(tree, node)
        out.print(tree)
    t = table("Checks", ("Claim", "Wireshark field", "Finding says", "Wireshark reads", "Frame", "OK"))
    for c in doc["checks"]:
        t.add_row(
            c["claim"], c["field"], safe(c["expected"]), safe(c["seen"]) or "-",
            str(c["frame"] or "-"), "yes" if c["ok"] else "NO",
        )  # fmt: skip
    out.print(t)
    reason = f": {escape(safe(doc['reason']))}" if doc["reason"] else ""
    keyed = ", with the flows' TLS keys" if doc["keyed"] else ""
    out.print(f"Wireshark (tshark {doc['tshark_version']}{keyed}): [bold]{doc['outcome']}[/bold]{reason}")


def _branch(parent: Tree, node: dict[str, Any]) -> None:
    label = escape(safe(str(node["name"])))
    if node["show"]:
        label += f" = {escape(safe(str(node['show'])))}"
    here = parent.add(label)
    for child in node["children"]:
        _branch(here, child)


def _end(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def diff_cmd(
    capture_a: Annotated[str, typer.Argument(help="The earlier capture (sha256 or a unique prefix).")],
    capture_b: Annotated[str, typer.Argument(help="The later capture (sha256 or a unique prefix).")],
    device: DeviceOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What changed from capture A to B: destinations, data types, how often and how precisely, findings."""
    mac = mac_opt(device)
    with open_db(db) as store:
        a, b = (_captures(store, [c])[0] for c in (capture_a, capture_b))
        try:
            doc = compare(store, a, b, mac)
        except DiffError as exc:
            raise Fail(str(exc)) from None
    if as_json:
        print_json(doc)
        return
    _print_diff(doc)


def _print_diff(doc: dict[str, Any]) -> None:
    for side in ("a", "b"):
        c = doc[side]
        out.print(
            f"{side.upper()}: {c['capture_id'][:16]} {c['path']} "
            f"({fmt_ts(int(c['first_ns']))} to {fmt_ts(int(c['last_ns']))} {zone_name()}, "
            f"{int(c['packets']):,} packets)"
        )
    if doc["device"]:
        out.print(f"device {doc['device']}")
    if not doc["changes"]:
        out.print("No differences.")
        return
    change = ("Change", "Destination", "Organisation", "Countries", "Flows", "Sent")
    t = table("Destinations", change)
    for what, rows in (("new", doc["destinations"]["new"]), ("gone", doc["destinations"]["gone"])):
        for r in rows:
            org = r["organisation"] or r["network"] or "-"
            countries = ",".join(r["countries"]) or "-"
            t.add_row(
                what, r["destination"], org, countries, str(r["flows"]), fmt_bytes(int(r["bytes_sent"]))
            )
    _show(t)
    t = table("Organisations and countries", ("Change", "Organisation", "Country", "Destinations"))
    for what in ("new", "gone"):
        for r in doc["organisations"][what]:
            t.add_row(what, r["organisation"], "", ", ".join(r["destinations"]))
        for r in doc["countries"][what]:
            t.add_row(what, "", r["country"], ", ".join(r["destinations"]))
    _show(t)
    t = table("Data types", ("Change", "Data type", "Reports", "Organisations", "Destinations"))
    for what in ("new", "gone"):
        for r in doc["data_types"][what]:
            t.add_row(
                what,
                r["data_type"],
                str(r["reports"]),
                ", ".join(r["organisations"]) or "-",
                ", ".join(r["destinations"]),
            )
    _show(t)
    t = table(
        "Series (data type x organisation x phase)",
        ("Change", "Data type", "Organisation", "Phase", "A", "B", "Reports A/B"),
    )
    for what in ("new", "gone"):
        for r in doc["series"][what]:
            every = f"every {fmt_secs(r['interval_s'])}" if r["interval_s"] else "once"
            a, b = ("-", every) if what == "new" else (every, "-")
            n = f"-/{r['reports']}" if what == "new" else f"{r['reports']}/-"
            t.add_row(what, r["data_type"], r["organisation"] or "-", r["phase"], a, b, n)
    for r in doc["frequency"]:
        t.add_row(
            "more often" if r["b_interval_s"] < r["a_interval_s"] else "less often",
            r["data_type"],
            r["organisation"] or "-",
            r["phase"],
            f"every {fmt_secs(r['a_interval_s'])}",
            f"every {fmt_secs(r['b_interval_s'])}",
            f"{fmt_count(r['a_reports'])}/{fmt_count(r['b_reports'])}",
        )
    for r in doc["precision"]:
        a = f"{r['a_decimals']} decimals ({r['a_metres']:g} m)"
        b = f"{r['b_decimals']} decimals ({r['b_metres']:g} m)"
        t.add_row(
            "finer" if r["finer"] else "coarser",
            r["data_type"],
            r["organisation"] or "-",
            r["phase"],
            a,
            b,
            "",
        )
    _show(t)
    t = table("Findings", ("Change", "Rule", "Subject", "Severity", "Statement"))
    for what in ("new", "gone"):
        for r in doc["findings"][what]:
            t.add_row(what, r["rule_id"], r["subject"] or "-", str(r["severity"]), str(r["statement"]))
    _show(t)


def _show(t: Any) -> None:
    if t.row_count:
        out.print(t)
    else:
        out.print(f"{t.title}: no change")


COMMANDS: dict[str, Callable[..., None]] = {"evidence": evidence_cmd, "diff": diff_cmd}
