"""Test harness: the labelled table's rows for captures that come with another tool's expected output.

nDPI's ``result/<pcap>.out`` (ndpiReader's flows and the host name or SNI it read), Zeek's
btest baselines (``conn.log`` flows; ``dns.log`` queries, ``ssl.log`` server names, ``dhcp.log``
host names) and suricata-verify's ``test.yaml`` checks (the eve events' DNS names, TLS SNI and
DHCP host names). For each: how many of the reference flows the replay has (same protocol and
endpoints, either direction), how many reference names the replay's rows carry, and how many of
the replay's flows are charged to a device at all (these captures name no device, so "attributed"
here means ``flows.device_mac`` is set), split by whether the capture's link layer carries MACs.

Names are compared as ndpiReader prints them (``ndpinames.printable``: lower case, no trailing
dot), each against the replay's names of the same kind: DNS questions, DNS answer owners, TLS or
QUIC server names, HTTP hosts, DHCP host names (``devices.dhcp_hostname``: ``app_events`` stores
them masked).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import yaml

from appliance.masking import mask_dns_name, mask_name
from tests.support.ndpinames import ndpi_flows, printable
from tests.support.paths import SHARED
from tests.support.replayed import Replayed, replayed
from tests.support.zeekconn import read_conn, trace_of

Key = tuple[str, frozenset[tuple[str, int]]]
WITH_MACS = frozenset(("ethernet",))  # link layers whose frames name both ends' MACs
NDPI_FLOW = re.compile(r"^\s+\d+\s+(TCP|UDP) (\[?[0-9a-fA-F:.]+\]?):(\d+) <?-> (\[?[0-9a-fA-F:.]+\]?):(\d+) ")
GQUIC = re.compile(r"QUIC ver: ([QT]\d{3})")  # Google QUIC, as ndpiReader prints its version
HOST_PORT = re.compile(r":\d+$")
NDPI_NAME = re.compile(r"\[Hostname/SNI: ([^\]]*)\]")
DNS_KINDS = ("dns", "dns-answer")


@dataclass
class CaptureFigures:
    """One capture (or one Zeek baseline) against its reference."""

    name: str
    link_types: list[str]
    error: str = ""
    ref_flows: int = 0
    matched: int = 0
    ref_names: Counter[str] = field(default_factory=Counter)  # by kind
    agreeing: Counter[str] = field(default_factory=Counter)
    missed: list[tuple[str, str]] = field(default_factory=list)  # (kind, name) not found
    flows: int = 0
    with_device: int = 0

    @property
    def has_macs(self) -> bool:
        return bool(self.link_types) and set(self.link_types) <= WITH_MACS


def _addr(text: str) -> str:
    return str(ipaddress.ip_address(text.strip("[]")))


def _by_key(r: Replayed) -> dict[Key, set[int]]:
    out: dict[Key, set[int]] = {}
    for f in r.flows:
        out.setdefault(f.key, set()).add(f.flow_id)
    return out


def _base(name: str, r: Replayed) -> CaptureFigures:
    return CaptureFigures(
        name, r.link_types, r.error, flows=len(r.flows), with_device=sum(1 for f in r.flows if f.device_mac)
    )


def _names(r: Replayed, ids: set[int], kinds: tuple[str, ...]) -> set[str]:
    """The replay's names of those kinds on those flows; an HTTP Host without its port, as nDPI
    and Suricata print it."""
    return {printable(HOST_PORT.sub("", n) if k == "http" else n) for k, n in r.names_of(ids) if k in kinds}


def _dhcp_names(r: Replayed) -> set[str]:
    return {printable(d["dhcp_hostname"]) for d in r.devices if d["dhcp_hostname"]}


def _check(c: CaptureFigures, kind: str, want: str, got: set[str]) -> None:
    """Count a reference name, and whether the replay has it; a DHCP host name or an mDNS/LLMNR
    name as the tables keep it by default (a person's name in it masked by ``mask_name``)."""
    c.ref_names[kind] += 1
    masked = {printable(mask_name(want)), printable(mask_dns_name(want))}
    if printable(want) in got or (kind.lower() in ("dhcp", "mdns", "llmnr") and masked & got):
        c.agreeing[kind] += 1
    else:
        c.missed.append((kind, want))


# ---- nDPI ------------------------------------------------------------------------------------------

NDPI_KINDS = ("dns", "dns-answer", "sni", "quic", "http")


def ndpi() -> list[CaptureFigures]:
    base = SHARED / "nDPI"
    out = []
    for res in sorted((base / "result").glob("*.out")):
        pcap = base / "pcap" / res.name.removesuffix(".out")
        if not pcap.exists():
            continue
        r = replayed(pcap)
        c = _base(pcap.name, r)
        keys = _by_key(r)
        lines = res.read_text(errors="replace").splitlines()
        for line in lines:
            m = NDPI_FLOW.match(line)
            if m:
                proto, a, ap, b, bp = m.groups()
                c.ref_flows += 1
                c.matched += (proto, frozenset(((_addr(a), int(ap)), (_addr(b), int(bp))))) in keys
        dhcp = _dhcp_names(r)
        gquic = {n.strip(): v for ln in lines if (v := _gquic(ln)) for n in NDPI_NAME.findall(ln)}
        for f in ndpi_flows(res):
            ids = keys.get(f.key, set())
            kind = (
                f"gQUIC-{gquic[f.name]}"
                if f.app.startswith("QUIC") and f.name in gquic
                else f.app.split(".")[0]
            )
            got = _names(r, ids, NDPI_KINDS) | (dhcp if f.app.startswith("DHCP") else set())
            _check(c, kind, f.name, got)
        out.append(c)
    return out


def _gquic(line: str) -> str:
    m = GQUIC.search(line)
    return m.group(1) if m else ""


# ---- Zeek ------------------------------------------------------------------------------------------


def _zeek_key(row: dict[str, str], proto: str) -> Key:
    return proto, frozenset(
        ((row["id.orig_h"], int(row["id.orig_p"])), (row["id.resp_h"], int(row["id.resp_p"])))
    )


def _zeek_ids(row: dict[str, str], keys: dict[Key, set[int]]) -> set[int]:
    protos = [row["proto"].upper()] if row.get("proto") else ["TCP", "UDP"]
    return {i for p in protos for i in keys.get(_zeek_key(row, p), set())}


def zeek() -> list[CaptureFigures]:
    base = SHARED / "zeek"
    out = []
    for d in sorted(p for p in (base / "Baseline").iterdir() if trace_of(p)):
        trace = base / "Traces" / str(trace_of(d))
        logs = {p.name.split(".")[0]: p for p in d.glob("*.log*")}
        if not trace.exists() or not ({"conn", "dns", "ssl", "dhcp"} & set(logs)):
            continue
        r = replayed(trace)
        c, keys = _base(d.name, r), _by_key(r)
        if "conn" in logs:
            for row in read_conn(logs["conn"]):
                if "id.orig_h" in row and row.get("proto", "tcp") in ("tcp", "udp"):
                    c.ref_flows += 1
                    c.matched += bool(_zeek_ids(row, keys))
        for log, column, kind, kinds in (
            ("dns", "query", "dns", DNS_KINDS),
            ("ssl", "server_name", "sni", ("sni", "quic")),
        ):
            for row in read_conn(logs[log]) if log in logs else []:
                if row.get(column, "-") not in ("-", "(empty)", ""):
                    _check(c, kind, row[column], _names(r, _zeek_ids(row, keys), kinds))
        for row in read_conn(logs["dhcp"]) if "dhcp" in logs else []:
            if row.get("host_name", "-") != "-":
                hosts = {printable(x["dhcp_hostname"]) for x in r.devices if x["mac"] == row["mac"]}
                _check(c, "dhcp", row["host_name"], hosts)
        out.append(c)
    return out


# ---- suricata-verify ---------------------------------------------------------------------------------

SURICATA_NAME = re.compile(
    r"^dns\.(rrname|queries\[\d+\]\.rrname|answers\[\d+\]\.rrname|authorities\[\d+\]\.rrname)$"
    r"|^tls\.sni$|^quic\.sni$|^dhcp\.hostname$|^http\.hostname$"
)
SURICATA_KIND = {
    "rrname": "dns",
    "queries": "dns",
    "answers": "dns-answer",
    "authorities": "dns-authority",
    "sni": "sni",
    "hostname": "host",
}
OURS = {
    "dns": ("dns",),
    "dns-answer": ("dns-answer",),
    "dns-authority": ("dns-authority",),
    "sni": ("sni", "quic"),
    "host": ("http",),
}


def _suricata_expected(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of every name an eve check expects (each once per test)."""
    want = set()
    for check in spec.get("checks") or []:
        match = (check.get("filter") or {}).get("match") or {}
        for k, v in match.items():
            if SURICATA_NAME.match(k) and isinstance(v, str):
                field_ = k.split(".")[1].split("[")[0]
                kind = "dhcp" if k.startswith("dhcp") else SURICATA_KIND[field_]
                want.add((kind, v.rstrip("\x00")))
    return want


def suricata() -> list[CaptureFigures]:
    base = SHARED / "suricata-verify"
    out = []
    for t in sorted(base.rglob("test.yaml")):
        spec = yaml.safe_load(t.read_text()) or {}
        pcap = (t.parent / spec["pcap"]).resolve() if spec.get("pcap") else t.parent / "input.pcap"
        want = _suricata_expected(spec)
        if not pcap.exists() or not want:
            continue
        r = replayed(pcap)
        c = _base(str(t.parent.relative_to(base)), r)
        every = set(r.names)
        for kind, name in sorted(want):
            got = _dhcp_names(r) if kind == "dhcp" else _names(r, every, OURS[kind])
            _check(c, kind, name, got)
        out.append(c)
    return out
