"""The browsing commands: what the store holds (devices, flows, destinations, personal-data
observations, captures) and the DDL it was created with."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.text import Text

from appliance.cli.common import (
    DbOpt,
    DeviceOpt,
    Fail,
    JsonOpt,
    fmt_bool,
    fmt_bytes,
    fmt_count,
    fmt_hash,
    fmt_mac,
    fmt_ts,
    limit_note,
    mac_opt,
    open_db,
    out,
    print_json,
    safe,
    table,
    time_col,
)
from appliance.cli.tables import DataTable
from appliance.store import queries
from appliance.store.backends import DATABASE
from appliance.store.schema import ddl_statements


def device_table(devs: list[dict[str, Any]], tops: list[dict[str, Any]]) -> None:
    """The devices table with each device's top remote endpoints; `replay` shows it too, after ingesting."""
    by_mac: dict[str, list[dict[str, Any]]] = {}
    for top in tops:
        by_mac.setdefault(top["mac"], []).append(top)
    t = DataTable(title="Devices", header_style="bold")
    for col in (
        "MAC",
        "Found by",
        "Vendor",
        "Name",
        "Category",
        "Addresses",
        "Flows",
        "Sent",
        "Received",
        "Top remote endpoints",
    ):
        t.add_column(
            col, justify="right" if col in ("Flows", "Sent", "Received") else "left", no_wrap=col == "MAC"
        )
    for d in devs:
        addrs = ", ".join(d["ipv4"] + d["ipv6"][:2]) + (" …" if len(d["ipv6"]) > 2 else "")
        remotes = Text(  # one endpoint a line: a str cell would show the line breaks escaped
            "\n".join(
                safe(f"{top['remote_ip']}:{top['port']} ({fmt_bytes(int(top['bytes']))})")
                for top in by_mac.get(d["mac"], [])
            )
        )
        cat = d["category"] if d["role"] == "device" else f"{d['category']} (gateway)"
        t.add_row(
            d["mac"],
            d["attributed_by"],
            d["vendor"] or "-",
            d["name"] or "-",
            cat,
            addrs or "-",
            f"{d['flows']:,}",
            fmt_bytes(d["bytes_sent"]),
            fmt_bytes(d["bytes_received"]),
            remotes if remotes.plain else "-",
        )
    out.print(t)


def devices_cmd(
    db: DbOpt = None,
    capture: Annotated[
        list[str] | None, typer.Option("--capture", help="Only these capture ids (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the local devices found in stored captures."""
    with open_db(db) as store:
        devs = queries.devices(store, capture)
        tops = queries.top_remotes(store, capture)
    if as_json:
        print_json(devs)
    else:
        device_table(devs, tops)


def flows_cmd(
    db: DbOpt = None,
    device: Annotated[str | None, typer.Option("--device", help="Only flows of this device MAC.")] = None,
    capture: Annotated[
        list[str] | None, typer.Option("--capture", help="Only these capture ids (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows to show (0 for all).", min=0)] = 50,
    offset: Annotated[int, typer.Option(help="Rows to skip.", min=0)] = 0,
    as_json: JsonOpt = False,
) -> None:
    """List stored flows, oldest first."""
    mac = mac_opt(device)
    with open_db(db) as store:
        total = queries.flow_count(store, capture, mac)
        rows = queries.flows(store, capture, mac, limit or total, offset)
    limit_note(len(rows), total, offset)
    if as_json:
        print_json(rows)
        return
    t = DataTable(title=f"Flows{' of ' + mac if mac else ''}", header_style="bold")
    for col in (
        time_col("Start"),
        "Proto",
        "Initiator",
        "Responder",
        "Pkts ↑/↓",
        "Bytes ↑/↓",
        "State",
        "End",
    ):
        t.add_column(col)
    names = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp6"}
    for r in rows:
        t.add_row(
            fmt_ts(int(r["first_ns"])),
            names.get(int(r["proto"]), str(r["proto"])),
            f"{r['src_ip']}:{r['src_port']}",
            f"{r['dst_ip']}:{r['dst_port']}",
            f"{fmt_count(r['pkts_up'])}/{fmt_count(r['pkts_down'])}",
            f"{fmt_bytes(int(r['bytes_up']))}/{fmt_bytes(int(r['bytes_down']))}",
            r["tcp_state"] or "-",
            r["end_reason"],
        )
    out.print(t)


def destinations_cmd(
    device: DeviceOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Who each device talks to: domain, organisation, kind, party, country, encryption, volume."""
    mac = mac_opt(device)
    with open_db(db) as store:
        rows = queries.destinations(store, device=mac)
    rows = [
        {
            "mac": r["device_mac"],
            "destination": r["destination"],
            "registrable": r["registrable"],
            "organisation": r["organisation"],
            "service": r["service"],
            "kind": r["service_kind"],
            "party": r["party"],
            "countries": [c for c in str(r["countries"]).split(",") if c],  # where the servers are
            "registry_countries": [c for c in str(r["registry_countries"]).split(",") if c],
            "cross_border": bool(r["cross_border"]),
            "as_org": r["as_org"],
            "security": [c for c in str(r["securities"]).split(",") if c],
            "encrypted": encrypted(str(r["securities"])),
            "readable": bool(r["readable"]),
            "apps": [c for c in str(r["apps"]).split(",") if c],
            "remote_ips": r["remote_ips"],
            "flows": int(r["flows"]),
            "bytes_up": int(r["bytes_sent"]),
            "bytes_down": int(r["bytes_received"]),
            "first_ns": int(r["first_ns"]),
            "last_ns": int(r["last_ns"]),
        }
        for r in rows
    ]
    if as_json:
        print_json(rows)
        return
    cols = ("Device", "Destination", "Organisation", "Kind", "Party", "Country", "Encrypted", "Flows")
    t = table("Destinations", (*cols, "Up", "Down", time_col("First"), time_col("Last")))
    for r in rows:
        t.add_row(
            fmt_mac(r["mac"]),
            r["destination"],
            r["organisation"] or (f"AS: {r['as_org']}" if r["as_org"] else "-"),
            r["kind"] or "-",
            r["party"],
            (",".join(r["countries"]) or "-") + (" ⚑ abroad" if r["cross_border"] else ""),
            f"{r['encrypted']} ({','.join(r['security'])})",
            f"{r['flows']:,}",
            fmt_bytes(r["bytes_up"]),
            fmt_bytes(r["bytes_down"]),
            fmt_ts(r["first_ns"]),
            fmt_ts(r["last_ns"]),
        )
    out.print(t)


def encrypted(security: str) -> str:
    """yes when every flow was encrypted, no when none was, partly, or unknown."""
    kinds = set(security.split(",")) - {""}
    enc = {k for k in kinds if k != "none" and k != "unknown"}
    if not kinds or kinds == {"unknown"}:
        return "unknown"
    if enc and not kinds - enc:
        return "yes"
    if "none" in kinds and not enc:
        return "no"
    return "partly"


def observations_cmd(
    device: DeviceOpt = None,
    data_type: Annotated[
        str | None, typer.Option("--type", help="Only this data type (location, imei, persona, image...).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows to show (0 for all).", min=0)] = 200,
    reveal: Annotated[
        bool,
        typer.Option(
            "--reveal", help="Show values as sent (only for captures replayed with --raw-evidence)."
        ),
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Personal data found in what devices sent: type, where, precision, destination; values masked."""
    mac = mac_opt(device)
    with open_db(db) as store:
        try:  # the read API masks, or reveals what was stored as sent
            rows = queries.observations(store, device=mac, data_type=data_type, limit=limit, reveal=reveal)
        except queries.RevealError as exc:
            raise Fail(f"--reveal: {exc}") from None
        total = queries.observation_count(store, device=mac, data_type=data_type) if limit else len(rows)
    limit_note(len(rows), total)
    rows = [
        {
            "ts_ns": int(r["ts_ns"]),
            "mac": r["device_mac"],
            "data_type": r["data_type"],
            "carrier": r["carrier"],
            "path": r["path"],
            "confidence": r["confidence"],
            "decimals": int(r["decimals"]),
            "metres": float(r["metres"]),
            "coord_system": r["coord_system"],
            "value": str(r["excerpt"]),
            "value_hash": r["value_hash"],
            "detail": json.loads(str(r["detail"]) or "{}"),
            "destination": r["domain"] or r["remote_ip"],
            "organisation": r["organisation"],
            "country": r["country"],
            "flow_id": r["flow_id"],
            "capture_id": r["capture_id"],
            "phase": r["phase"],
            "plaintext": r["plaintext"],  # clear, or decrypted: tls-keylog, tls-dsb, tls-intercept
        }
        for r in rows
    ]
    if as_json:
        print_json(rows)
        return
    cols = (time_col("Time"), "Device", "Type", "Where", "Value", "Precision", "Conf.", "Destination",
            "Country", "Phase")  # fmt: skip
    t = table("Observations", cols)
    for r in rows:
        precision = f"{r['decimals']} dp ({r['metres']:g} m)" if r["decimals"] >= 0 else "-"
        t.add_row(
            fmt_ts(r["ts_ns"]),
            fmt_mac(r["mac"]),
            r["data_type"],
            f"{r['carrier']} {r['path']}",
            r["value"],
            precision,
            r["confidence"],
            str(r["destination"]),
            str(r["country"] or "-"),
            str(r["phase"] or "-"),
        )
    out.print(t)


RetentionOpt = Annotated[
    str | None,
    typer.Option(
        "--retention",
        metavar="TABLE=DURATION,...",
        help="Set how long tables keep rows after they were stored: flows=30d,bursts=30d,observations=1y..."
        " (a table or raw, records, rollups; s, m, h, d, w or y; 0 for ever), then show the retention.",
    ),
]
PruneOpt = Annotated[bool, typer.Option("--prune", help="Remove the rows past their retention now.")]


def captures_cmd(
    db: DbOpt = None, as_json: JsonOpt = False, retention: RetentionOpt = None, prune: PruneOpt = False
) -> None:
    """List stored captures with their sha256, time span and counts, and the TLS key files each was
    replayed with (path and sha256, never a secret); or set the store's retention, or prune it."""
    if retention is not None or prune:
        _retention(db, as_json, retention, prune)
        return
    with open_db(db) as store:
        rows = queries.captures(store)
        keys: dict[str, list[dict[str, object]]] = {}
        for k in queries.capture_keys(store):
            keys.setdefault(str(k.pop("capture_id")), []).append(k)
    for r in rows:
        r["key_files"] = keys.get(str(r["capture_id"]), [])
    if as_json:
        print_json(rows)
        return
    t = DataTable(title="Captures", header_style="bold")
    cols = (
        "sha256",
        "Path",
        "Packets",
        "Flows",
        "Devices",
        time_col("First"),
        time_col("Last"),
        "Truncated",
        "Key files",
    )
    for col in cols:
        t.add_column(col)
    for r in rows:
        t.add_row(
            fmt_hash(r["capture_id"], 16, mark=""),  # a prefix --capture takes; --json has it all
            f"{r['path']} (Zeek logs)" if str(r.get("format", "")).startswith("zeek") else r["path"],
            f"{int(r['packets']):,}",
            f"{int(r['flows']):,}",
            fmt_count(r["devices"]),
            fmt_ts(int(r["first_ns"])),
            fmt_ts(int(r["last_ns"])),
            fmt_bool(r["truncated"]),
            str(len(r["key_files"])),
        )
    out.print(t)


def _retention(db: str | None, as_json: bool, spec: str | None, prune: bool) -> None:
    """``captures --retention`` and ``--prune``: the policy set (and shown), the rows removed."""
    from appliance.store import retention

    try:
        change = retention.parse(spec) if spec is not None else {}
    except ValueError as exc:
        raise Fail(f"--retention: {exc}") from None
    with open_db(db) as store:
        kept = retention.set_policy(store, change) if change else retention.policy(store)
        removed = retention.prune(store) if prune else {}
        ttl = retention.has_ttl(store)
    if as_json:
        print_json({"retention_s": kept, "removed": removed, "ttl": ttl})
        return
    how = "table TTLs" if ttl else "deletes at each open and --prune (this ClickHouse has no TTL)"
    shown = (
        ", ".join(f"{t} {retention.spell(s)}" for t, s in sorted(kept.items())) or "every table kept for ever"
    )
    out.print(f"retention: {shown}; applied by {how}")
    if prune:
        rows = ", ".join(f"{t} {n:,}" for t, n in sorted(removed.items()))
        out.print(f"removed {sum(removed.values()):,} rows past retention" + (f": {rows}" if rows else ""))


def schema_cmd(database: Annotated[str, typer.Option(help="Database name.")] = DATABASE) -> None:
    """Print the ClickHouse DDL that tapaudit creates."""
    for stmt in ddl_statements(database):
        print(stmt + ";\n")


COMMANDS: dict[str, Callable[..., None]] = {
    "devices": devices_cmd,
    "flows": flows_cmd,
    "destinations": destinations_cmd,
    "observations": observations_cmd,
    "captures": captures_cmd,
    "schema": schema_cmd,
}
