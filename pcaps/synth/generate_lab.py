"""Generate the synthetic smart-terminal lab capture with its ground truth and bench file.

    python -m pcaps.synth.generate_lab --out-dir pcaps/lab              # the demo lab
    python -m pcaps.synth.generate_lab --out-dir DIR --packets 1000000  # benchmark capture

Deterministic: the same seed gives byte-identical files (no wall clock, one seeded RNG).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import ipaddress
import sys
from pathlib import Path
from typing import Any

import yaml

from parsers.capture_write import write_pcap, write_pcapng
from pcaps.synth import lab_tls, personal, scenario
from pcaps.synth.benchcap import write_bench_capture
from pcaps.synth.hosts import GW_IP, GW_LL, GW_MAC, PHASES, T0
from pcaps.synth.lab import build
from pcaps.synth.truth import PROTO_NAMES, FlowBook, describe, device_mac

LAN = ["192.168.50.0/24", "fd00:50::/64", "fe80::/10"]
CSV_COLUMNS = [
    "proto",
    "initiator_ip",
    "initiator_port",
    "responder_ip",
    "responder_port",
    "first_ts",
    "last_ts",
    "pkts_up",
    "pkts_down",
    "ip_bytes_up",
    "ip_bytes_down",
    "payload_up",
    "payload_down",
    "tcp_end",
    "device_mac",
    "phase",
    "vlan",
    "fragments",
    "note",
]


def oui_vendor(mac: str) -> str:
    import netaddr

    try:
        return str(netaddr.EUI(mac).oui.registration().org)
    except netaddr.NotRegisteredError:
        return ""


def phase_at(t: float) -> str:
    return next((name for name, a, b in PHASES if a <= t < b), PHASES[-1][0])


def generate(out_dir: Path, seed: int, fmt: str) -> dict[str, Any]:
    lab = build(seed)
    order = sorted(range(len(lab.frames)), key=lambda i: (lab.frames[i][0], i))
    packets: list[tuple[int, bytes]] = []
    book = FlowBook()
    addrs: dict[str, dict[str, set[str]]] = {}
    local = [ipaddress.ip_network(n) for n in LAN]
    for i in order:
        t, pkt, note = lab.frames[i]
        ts_us = T0 * 1_000_000 + round(t * 1_000_000)
        data = bytes(pkt)
        packets.append((ts_us, data))
        if note == "fragment":
            continue
        whole = lab.datagrams[t] if note == "fragment-last" else None
        p = describe(bytes(whole) if whole is not None else data)
        if p is None:
            continue
        book.add(ts_us * 1000, p, fragments=3 if whole is not None else 0)
        for ip in (p.src,):
            if any(
                ipaddress.ip_address(ip) in n for n in local if n.version == ipaddress.ip_address(ip).version
            ):
                fam = "ipv4" if ":" not in ip else "ipv6"
                addrs.setdefault(p.smac, {"ipv4": set(), "ipv6": set()})[fam].add(ip)
    for h in lab.hosts.values():  # DHCP leases and DAD probes name addresses a host did not source
        addrs.setdefault(h.mac, {"ipv4": set(), "ipv6": set()})["ipv4"].add(h.ip)
        if h.ula:
            addrs[h.mac]["ipv6"].update((h.ll, h.ula))

    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"lab.{fmt}"
    with open(out_dir / name, "wb") as fh:
        (write_pcapng if fmt == "pcapng" else write_pcap)(fh, ((ts * 1000, data) for ts, data in packets))
    records = book.finish()
    rows = []
    for r in records:
        proto, a, ap, b, bp = r.key
        rows.append(
            {
                "proto": PROTO_NAMES[proto],
                "initiator_ip": a,
                "initiator_port": ap,
                "responder_ip": b,
                "responder_port": bp,
                "first_ts": f"{r.first / 1e9:.6f}",
                "last_ts": f"{r.last / 1e9:.6f}",
                "pkts_up": r.pkts[0],
                "pkts_down": r.pkts[1],
                "ip_bytes_up": r.ipbytes[0],
                "ip_bytes_down": r.ipbytes[1],
                "payload_up": r.payload[0],
                "payload_down": r.payload[1],
                "tcp_end": r.end if proto == 6 else "",
                "device_mac": device_mac(r, local),
                "phase": phase_at(r.first / 1e9 - T0),
                "vlan": r.vlan,
                "fragments": r.fragments,
                "note": "",
            }
        )
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    (out_dir / "lab.flows.csv").write_text(buf.getvalue())

    devices: dict[str, Any] = {
        GW_MAC: _truth_device("Lab gateway", "other", GW_MAC, addrs, [GW_IP], [GW_LL]),
    }
    for h in lab.hosts.values():
        d = _truth_device(h.name, h.category, h.mac, addrs)
        d.update(
            dhcp_hostname=h.hostname,
            dhcp_vendor_class=h.vendor_class,
            dhcp_prl=list(h.prl),
            dhcp_client_id=h.client_id.hex(),
            mdns_name=h.mdns,
            ssdp_server=h.ssdp_server,
        )
        devices[h.mac] = d
    truth = {
        "generator": "pcaps/synth/generate_lab.py",
        "seed": seed,
        "capture": name,
        "packets": len(packets),
        "first_ts": packets[0][0] / 1e6,
        "last_ts": packets[-1][0] / 1e6,
        "flows": len(rows),
        "lan": {"ipv4": LAN[0], "ipv6": LAN[1], "gateway_ip": GW_IP, "gateway_mac": GW_MAC},
        "devices": devices,
        "phases": [{"name": n, "start": float(T0 + a), "end": float(T0 + b)} for n, a, b in PHASES],
    }
    # encrypted traffic the appliance can only judge by its shape (pcaps.synth.encrypted)
    truth["periodic"] = lab.periodic
    truth["uploads"] = [{**u, "start": round(T0 + float(u["start"]), 6)} for u in lab.uploads]
    # personal data sent in clear (pcaps.synth.personal): every value with the time of its packet,
    # and per device x data type x destination x phase the interval between reports
    obs, series = personal.truth(lab, phase_at)
    truth["observations"] = [_Row(e) for e in obs]
    truth["series"] = [_Row(e) for e in series]
    # the findings each product's deliberate gaps must raise (pcaps.synth.scenario)
    truth["findings"] = [_Row(e) for e in scenario.expected_findings(lab.hosts)]
    _write_yaml(out_dir / "lab.truth.yaml", truth)
    # what each product's maker declares (pcaps.synth.scenario), with its deliberate gaps as comments
    decl_dir = out_dir / "declarations"
    decl_dir.mkdir(exist_ok=True)
    for name, doc in scenario.declarations(lab.hosts).items():
        gaps = scenario.DECLARATIONS[name.removesuffix(".yaml")]["gaps"]
        head = "".join(f"#   - {g}\n" for g in gaps)
        (decl_dir / name).write_text(
            "# generated by pcaps/synth/generate_lab.py: do not edit, regenerate\n"
            f"# deliberate gaps against what the device sends:\n{head}"
            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)
        )
    bench = {"lan_prefixes": LAN, "devices": {h.mac: h.bench for h in lab.hosts.values() if h.bench}}
    _write_yaml(out_dir / "lab.bench.yaml", bench)
    # the engineer's phase marks, as a lab would write them for `replay --phases`
    marks = [f"{_iso(T0 + a)},{n},lab scenario" for n, a, _b in PHASES]
    (out_dir / "lab.phases.csv").write_text("timestamp,phase,note\n" + "\n".join(marks) + "\n")
    return truth


def generate_tls(out_dir: Path, seed: int) -> dict[str, Any]:
    """The lab inside TLS 1.3 (``pcaps.synth.lab_tls``): ``lab-tls.pcapng``, its key log, truth and
    bench file. A capture of its own, so the clear lab and everything checked against it stay as
    they are."""
    lab, sender = lab_tls.build(seed)
    order = sorted(range(len(lab.frames)), key=lambda i: (lab.frames[i][0], i))
    packets = [
        ((T0 * 1_000_000 + round(lab.frames[i][0] * 1_000_000)) * 1000, bytes(lab.frames[i][1]))
        for i in order
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "lab-tls.pcapng", "wb") as fh:
        write_pcapng(fh, packets)
    (out_dir / "lab-tls.keys.log").write_text(
        "# generated by pcaps/synth/generate_lab.py: the TLS 1.3 secrets of lab-tls.pcapng\n"
        + "".join(c.keylog() for c in sender.sessions)
    )
    hosts = [lab.hosts[k] for k in lab_tls.DEVICES]
    obs, series = personal.truth(lab, phase_at)
    suites: dict[str, int] = {}
    for c in sender.sessions:
        name = f"{lab_tls.SUITE_NAMES[c.suite_id]} {c.alpn}"
        suites[name] = suites.get(name, 0) + 1
    truth: dict[str, Any] = {
        "capture": "lab-tls.pcapng",
        "keylog": "lab-tls.keys.log",
        "seed": seed,
        "packets": len(packets),
        "devices": {h.mac: h.name for h in hosts},
        "tls_sessions": suites,
        "phases": [{"name": n, "start": float(T0 + a), "end": float(T0 + b)} for n, a, b in PHASES],
        # every request as sent inside TLS (what a reader with the key log must find)
        "requests": [_Row(r) for r in lab_tls.requests_truth(sender)],
        # the personal data inside those requests, as lab.truth.yaml's observations and series
        "observations": [_Row(e) for e in obs],
        "series": [_Row(e) for e in series],
    }
    _write_yaml(out_dir / "lab-tls.truth.yaml", truth)
    bench = {"lan_prefixes": LAN, "devices": {h.mac: h.bench for h in hosts}}
    _write_yaml(out_dir / "lab-tls.bench.yaml", bench)
    marks = [f"{_iso(T0 + a)},{n},lab scenario" for n, a, _b in PHASES]
    (out_dir / "lab-tls.phases.csv").write_text("timestamp,phase,note\n" + "\n".join(marks) + "\n")
    return truth


def _truth_device(
    name: str,
    category: str,
    mac: str,
    addrs: dict[str, dict[str, set[str]]],
    ipv4: list[str] | None = None,
    ipv6: list[str] | None = None,
) -> dict[str, Any]:
    seen = addrs.get(mac, {"ipv4": set(), "ipv6": set()})
    return {
        "name": name,
        "category": category,
        "vendor": oui_vendor(mac),
        "dhcp_hostname": "",
        "dhcp_vendor_class": "",
        "dhcp_prl": [],
        "dhcp_client_id": "",
        "ipv4": sorted(seen["ipv4"] | set(ipv4 or [])),
        "ipv6": sorted(seen["ipv6"] | set(ipv6 or [])),
        "mdns_name": "",
        "ssdp_server": "",
    }


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Row(dict[str, Any]):
    """A mapping written on one line: the truth's long lists stay readable."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Row, lambda d, row: d.represent_mapping("tag:yaml.org,2002:map", row.items(), flow_style=True)
)


def _write_yaml(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(
        "# generated by pcaps/synth/generate_lab.py: do not edit, regenerate\n"
        + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--format", choices=("pcapng", "pcap"), default="pcapng")
    ap.add_argument("--packets", type=int, help="write the benchmark capture lab-N.pcap of N packets instead")
    args = ap.parse_args(argv)
    try:
        if args.packets is not None:
            if args.packets < 1:
                raise ValueError("--packets must be positive")
            info = write_bench_capture(args.out_dir, args.packets, args.seed)
            print(f"wrote {info['capture']}: {info['packets']:,} packets, {info['flows']:,} flows")
        else:
            truth = generate(args.out_dir, args.seed, args.format)
            where = args.out_dir / truth["capture"]
            print(f"wrote {where}: {truth['packets']:,} packets, {truth['flows']:,} flows")
            tls = generate_tls(args.out_dir, args.seed)
            where = args.out_dir / tls["capture"]
            sessions = sum(tls["tls_sessions"].values())
            print(f"wrote {where}: {tls['packets']:,} packets, {sessions} TLS 1.3 sessions")
    except (OSError, ValueError) as exc:
        print(f"generate_lab: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
