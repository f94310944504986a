"""Wireshark's second opinion written as the engine writes it (issue 22 contract), for the dashboard
and report tests: rows of ``confirmations`` for real findings of the assessed lab.

The packets are the finding's real evidence (``tapaudit evidence``'s export) listed by tshark 4.0
itself, so the packet list a page shows can be checked against tshark, not against this helper;
the info column and the field values are masked as the contract says (``appliance.masking``).
One finding is confirmed, one not confirmed (its check's expected value made to differ from what
tshark reads, the disagreement the pages must show), one not checkable, the rest left unchecked.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.findings.evidence import export
from appliance.masking import mask_path, mask_query
from appliance.store import queries
from appliance.store.backends import Store
from appliance.store.schema import CONFIRMATIONS

LIST_FIELDS = ("frame.number", "frame.time_epoch", "_ws.col.Source", "_ws.col.Destination",
               "_ws.col.Protocol", "frame.len", "_ws.col.Info")  # fmt: skip
# the claims a finding on the lab makes, by the Wireshark field that carries them
CLAIMS = {
    "tls.handshake.extensions_server_name": ("server name", "tls", "Transport Layer Security"),
    "http.host": ("http host", "http", "Hypertext Transfer Protocol"),
    "http.request.uri": ("http path", "http", "Hypertext Transfer Protocol"),
    "mqtt.topic": ("mqtt topic", "mqtt", "MQ Telemetry Transport Protocol"),
    "dns.qry.name": ("dns name", "dns", "Domain Name System"),
}
NOT_CONFIRMED_HOST = "api.other-vendor.example"
NO_EVIDENCE = "no packet evidence: the finding is about an absence"
GONE = "the capture file is gone or changed"


def tshark_version() -> str:
    """The installed tshark's version, as the engine records it ("4.0.17")."""
    out = subprocess.run(["tshark", "-v"], capture_output=True, text=True, check=True, timeout=60).stdout
    return out.split()[2] if out.startswith("TShark") else out.split("\n")[0]


@dataclass
class Written:
    """What was written: finding id -> outcome, and the packet list tshark gave per finding."""

    outcome: dict[str, str] = field(default_factory=dict)
    packets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reason: dict[str, str] = field(default_factory=dict)


def masked_text(text: str) -> str:
    """A summary line or a field value masked as excerpts are: query values, identifier-like path
    segments (``appliance.masking``)."""
    out = []
    for tok in text.split(" "):
        if "/" in tok or "?" in tok:
            path, _, query = tok.partition("?")
            tok = mask_path(path) + (f"?{mask_query(query)}" if query else "")
        out.append(tok)
    return " ".join(out)


def _tshark(pcap: Path, fields: tuple[str, ...]) -> list[list[str]]:
    cmd = ["tshark", "-r", str(pcap), "-T", "fields", "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    return [line.split("\t") for line in out.split("\n") if line]


def _utc(epoch: str) -> str:
    sec, _, frac = epoch.partition(".")
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(sec))) + "." + (frac + "000000")[:6]


Listed = list[dict[str, Any]]


def dissect(pcap: Path, limit: int = 12) -> tuple[Listed, Listed, Listed]:
    """The packet list, the tree of the fields that matter and one check per claim, from tshark."""
    packets = [
        {"frame": int(r[0]), "time": _utc(r[1]), "src": r[2], "dst": r[3], "protocol": r[4],
         "length": int(r[5]), "info": masked_text(r[6])}
        for r in _tshark(pcap, LIST_FIELDS)[:limit]
    ]  # fmt: skip
    names = tuple(CLAIMS)
    trees, checks, claimed = [], [], set()
    for r in _tshark(pcap, ("frame.number", *names))[:limit]:
        protos: dict[str, dict[str, Any]] = {}
        for name, value in zip(names, r[1:], strict=True):
            if not value:
                continue
            claim, proto, title = CLAIMS[name]
            shown = masked_text(value)
            node = protos.setdefault(proto, {"name": proto, "show": title, "children": []})
            node["children"].append({"name": name, "show": shown, "children": []})
            if claim not in claimed:
                claimed.add(claim)
                checks.append({"claim": claim, "field": name, "expected": shown, "seen": shown, "ok": True,
                               "frame": int(r[0])})  # fmt: skip
        if protos:
            trees.append({"frame": int(r[0]), "fields": list(protos.values())})
    return packets, trees, checks


def write_confirmations(store: Store, capture_id: str, workdir: Path, device: str | None = None) -> Written:
    """Rows for the lab's findings (of one device): the first with flows confirmed, the second not
    confirmed (its host claim differs), the first without flows not checkable (else the third, its
    capture file said to be gone); the others left unchecked."""
    fnds = queries.findings(store, [capture_id], device)
    ingest = {str(r["finding_id"]): int(r["ingest_id"]) for r in store.query(
        "SELECT finding_id, any(ingest_id) AS ingest_id FROM {db}.findings GROUP BY finding_id")}  # fmt: skip
    with_flows = [f for f in fnds if f["flows"]]
    absent = [f for f in fnds if not f["flows"]]
    plan = [(with_flows[0], "confirmed"), (with_flows[1], "not confirmed")]
    plan += [(absent[0], "not checkable")] if absent else [(with_flows[2], "not checkable")]
    done = Written()
    rows = []
    stamp = time.time_ns()
    version = tshark_version()
    for f, outcome in plan:
        fid = str(f["finding_id"])
        packets: list[dict[str, Any]] = []
        trees: list[dict[str, Any]] = []
        checks: list[dict[str, Any]] = []
        reason = ""
        if outcome != "not checkable" or f["flows"]:
            pcap = Path(tempfile.mkdtemp(dir=workdir)) / "ev.pcapng"
            export(store, fid, str(pcap))
            packets, trees, checks = dissect(pcap)
        if outcome == "not confirmed":
            c = next((c for c in checks if c["claim"] in ("http host", "server name")), None)
            if c is None:
                c = {"claim": "server name", "field": "tls.handshake.extensions_server_name", "seen": "",
                     "frame": 0}  # fmt: skip
                checks.append(c)
            c.update(expected=NOT_CONFIRMED_HOST, ok=False)
            seen = c["seen"] or "nothing"
            reason = f"{c['claim']}: Wireshark reads {seen}, the finding says {NOT_CONFIRMED_HOST}"
        elif outcome == "not checkable":
            packets, trees, checks = [], [], []
            reason = NO_EVIDENCE if not f["flows"] else GONE
        rows.append(
            CONFIRMATIONS.row(
                capture_id=capture_id, ingest_id=ingest.get(fid, 0), assess_id=int(f["assess_id"]),
                finding_id=fid, confirm_id=stamp, outcome=outcome, reason=reason, checks=json.dumps(checks),
                packets=json.dumps(packets), tree=json.dumps(trees), tshark_version=version, keyed=0,
                checked_ns=stamp,
            )
        )  # fmt: skip
        done.outcome[fid], done.packets[fid], done.reason[fid] = outcome, packets, reason
    store.insert("confirmations", rows)
    return done
