"""The traffic-shape commands: how often devices report personal data (measures), how regularly
they talk to each destination (periods) and the upload bursts in encrypted traffic (uploads)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.text import Text

from appliance.cli.common import (
    DbOpt,
    DeviceOpt,
    JsonOpt,
    fmt_bytes,
    fmt_count,
    fmt_duration,
    fmt_hash,
    fmt_mac,
    fmt_num,
    fmt_secs,
    fmt_ts,
    mac_opt,
    open_db,
    out,
    print_json,
    table,
    time_col,
)
from appliance.measures import shapes
from appliance.store import queries


def measures_cmd(
    device: DeviceOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How often, how precisely and for how long each device sent each kind of personal data, by phase."""
    mac = mac_opt(device)
    with open_db(db) as store:
        rows = queries.measures(store, device=mac)
    rows = [
        {
            "mac": r["device_mac"],
            "data_type": r["data_type"],
            "organisation": r["organisation"],
            "phase": r["phase"],
            "reports": int(r["reports"]),
            "observations": int(r["n"]),
            "reports_per_hour": r["reports_per_hour"],
            "median_interval_s": round(r["median_gap_ns"] / 1e9, 3),
            "min_interval_s": round(r["min_gap_ns"] / 1e9, 3),
            "longest_run_s": round(r["longest_run_ns"] / 1e9, 3),
            "max_decimals": int(r["max_decimals"]),
            "best_metres": r["best_metres"],
            "encrypted_share": round(float(r["enc_share"]), 3),
            "cross_border_share": round(float(r["abroad_share"]), 3),
            "third_party_share": round(float(r["third_share"]), 3),
            "first_ns": int(r["first_ns"]),
            "last_ns": int(r["last_ns"]),
        }
        for r in rows
    ]
    if as_json:
        print_json(rows)
        return
    cols = ("Device", "Type", "To", "Phase", "Reports", "Per hour", "Median gap", "Min gap", "Longest run")
    t = table("Measures", (*cols, "Precision", "Encrypted", "Abroad", "3rd party"))
    for r in rows:
        precision = f"{r['max_decimals']} dp ({r['best_metres']:g} m)" if r["max_decimals"] >= 0 else "-"
        t.add_row(
            fmt_mac(r["mac"]),
            r["data_type"],
            r["organisation"] or "-",
            r["phase"],
            fmt_count(r["reports"]),
            fmt_num(float(r["reports_per_hour"])),
            fmt_secs(r["median_interval_s"]),
            fmt_secs(r["min_interval_s"]),
            fmt_secs(r["longest_run_s"]),
            precision,
            f"{r['encrypted_share']:.0%}",
            f"{r['cross_border_share']:.0%}",
            f"{r['third_party_share']:.0%}",
        )
    out.print(t)


def periods_cmd(
    device: DeviceOpt = None,
    by_phase: Annotated[bool, typer.Option("--by-phase", help="One period per test phase.")] = False,
    include_readable: Annotated[
        bool, typer.Option("--all", help="Also flows the appliance could read (clear text).")
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How regularly each device reports to each destination, from the timing of encrypted traffic."""
    mac = mac_opt(device)
    with open_db(db) as store:
        rows = shapes.periods(store, device=mac, by_phase=by_phase, encrypted_only=not include_readable)
    rows = [
        {
            "capture_id": r["capture_id"],
            "mac": r["device_mac"],
            "destination": r["destination"],
            "organisation": r["organisation"],
            "country": r["country"],
            "phase": r["phase"],
            "security": r["security"],
            "flows": int(r["flow_count"]),
            "bursts": int(r["bursts"]),
            "bytes_out": int(r["bytes_out"]),
            "period_s": r["period_s"],
            "jitter_s": r["jitter_s"],
            "score": r["score"],
            "periodic": r["periodic"],
            "beats": r["beats"],
            "missing": r["missing"],
            "extra": r["extra"],
            "longest_run_s": r["longest_run_s"],
            "first_ns": int(r["first_ns"]),
            "last_ns": int(r["last_ns"]),
        }
        for r in rows
    ]
    if as_json:
        print_json(rows)
        return
    cols = ("Device", "Destination", "Capture", "Phase", "Flows", "Bursts", "Period", "Jitter", "Score")
    t = table("Reporting periods (from burst timing)", (*cols, "Missing/extra", "Longest run", "Sent"))
    for r in rows:
        periodic = r["periodic"]
        t.add_row(
            fmt_mac(r["mac"]),
            r["destination"] + (f" ({r['organisation']})" if r["organisation"] else ""),
            fmt_hash(r["capture_id"]),
            r["phase"] or "all",
            fmt_count(r["flows"]),
            fmt_count(r["bursts"]),
            fmt_secs(r["period_s"]) if periodic else Text("none", style="dim"),
            fmt_duration(float(r["jitter_s"])) if periodic else "-",
            f"{r['score']:.2f}",
            f"{r['missing']}/{r['extra']}" if periodic else "-",
            fmt_secs(r["longest_run_s"]) if periodic else "-",
            fmt_bytes(r["bytes_out"]),
        )
    out.print(t)


def uploads_cmd(
    device: DeviceOpt = None,
    include_readable: Annotated[
        bool, typer.Option("--all", help="Also flows the appliance could read (clear text).")
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload bursts in encrypted traffic, each with the media it probably carries and why."""
    mac = mac_opt(device)
    with open_db(db) as store:
        rows = shapes.uploads(store, device=mac, encrypted_only=not include_readable)
    rows = [
        {
            "capture_id": r["capture_id"],
            "mac": r["device_mac"],
            "destination": r["destination"],
            "organisation": r["organisation"],
            "phase": r["phase"],
            "flow": r["flow_id"],
            "start_ns": int(r["start_ns"]),
            "seconds": r["seconds"],
            "bytes_out": int(r["bytes_out"]),
            "rate": r["rate"],
            "kind": r["kind"],
            "confidence": r["confidence"],
            "score": r["score"],
            "leaning": r["leaning"],
            "reason": r["reason"],
        }
        for r in rows
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("No upload bursts (none of 16 KiB or more, mostly one way or a call's media).")
        return
    t = table(
        "Upload bursts", ("Device", time_col("Start"), "Destination", "Phase", "Sent", "Probably", "Why")
    )
    for r in rows:
        t.add_row(
            fmt_mac(r["mac"]),
            fmt_ts(r["start_ns"]),
            r["destination"],
            r["phase"],
            fmt_bytes(r["bytes_out"]),
            f"{r['kind']} ({r['confidence']} {r['score']:.2f})",
            r["reason"],
        )
    out.print(t)


COMMANDS: dict[str, Callable[..., None]] = {
    "measures": measures_cmd,
    "periods": periods_cmd,
    "uploads": uploads_cmd,
}
