"""The labelled-captures table (issue 15): on every shared capture that comes with labels, what a
user gets from ``tapaudit replay`` against what the labels say.

Device datasets (``labels.DeviceLabel``: IoT-Sentinel, Lifecycle, NEU intl-iot, SSI, JasonHYJ):

- **found**: the inventory lists the labelled MAC (or, for a label that gives only an address, a
  device holding that address), per capture;
- **flows of the device**: flows whose frames carry the labelled MAC on either end, or whose
  addresses include the labelled address; **attributed**: of those, the ones the replay charges
  to the device (``flows.device_mac``); **begun by another device**: the rest that are local flows
  another LAN device began (tapaudit charges a local flow to the device that began it);
- **names agree**: the IEEE OUI vendor tapaudit shows is the label's maker (``vendor``), or a
  name it shows for the device (``devices.name``, DHCP host name and vendor class, mDNS and SSDP
  names) carries the maker or the brand (``name``). Both compare letters and digits only, case
  ignored.

Captures with another tool's expected output (nDPI, Zeek, Suricata) are in ``references``.
Stratosphere's captures are Zeek logs without packets: tapaudit cannot read Zeek logs yet, so
its row says so.

``python -m tests.support.labelled`` prints the tables as Markdown; ``--json`` as JSON.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from tests.support import references
from tests.support.labels import DeviceLabel, all_labels
from tests.support.paths import SHARED
from tests.support.replayed import replayed
from tests.support.zeekconn import read_conn


def norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def carries(words: tuple[str, ...], names: set[str]) -> bool:
    """Some name carries one of the words (letters and digits only, case ignored)."""
    ws = [norm(w) for w in words if norm(w)]
    return any(w in norm(n) for w in ws for n in names)


@dataclass
class DeviceFigures:
    dataset: str
    device: str
    label: str  # the MAC or address the label gives
    captures: int
    found_in: int = 0
    macs: set[str] = field(default_factory=set)  # the MACs tapaudit lists for it
    flows: int = 0
    attributed: int = 0
    begun_by_other: int = 0
    vendors: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    vendor_agrees: bool | None = None  # None: the label names no maker
    name_agrees: bool | None = None
    gateway_found: bool | None = None  # the labelled access point listed as the gateway; None: not labelled

    @property
    def agrees(self) -> bool | None:
        if self.vendor_agrees is None and self.name_agrees is None:
            return None
        return bool(self.vendor_agrees or self.name_agrees)


def _shown_names(d: dict[str, Any]) -> set[str]:
    return {
        n
        for n in (d["name"], d["dhcp_hostname"], d["dhcp_vendor_class"], *d["mdns_names"], *d["ssdp_names"])
        if n
    }


def device_figures(label: DeviceLabel) -> DeviceFigures:
    fig = DeviceFigures(label.dataset, label.device, label.mac or label.ip, len(label.captures))
    gateways = []
    for pcap in label.captures:
        r = replayed(pcap)
        devs = [d for d in r.devices if d["mac"] == label.mac or (label.ip and label.ip in d["ipv4"])]
        macs = {d["mac"] for d in devs}
        fig.found_in += bool(devs)
        fig.macs |= macs
        for d in devs:
            fig.vendors.add(d["oui_vendor"])
            fig.names |= _shown_names(d)
        ends = {label.mac, label.ip} - {""}
        for f in r.flows:
            if ends & {f.src_mac, f.dst_mac, f.src[0], f.dst[0]}:
                fig.flows += 1
                if f.device_mac and f.device_mac in macs | {label.mac}:
                    fig.attributed += 1
                elif f.direction == "local":
                    fig.begun_by_other += 1
        if label.gateway:
            gateways.append(any(d["mac"] == label.gateway and d["role"] == "gateway" for d in r.devices))
    fig.vendor_agrees = carries(label.makers, fig.vendors) if label.makers else None
    fig.name_agrees = carries(label.brands, fig.names) if label.brands else None
    fig.gateway_found = all(gateways) if gateways else None
    return fig


@dataclass
class DatasetRow:
    dataset: str
    captures: int
    devices: int
    found: int  # labelled devices found in every capture of theirs
    captures_found: int  # captures where their device was found
    flows: int
    attributed: int
    begun_by_other: int
    named: int  # devices whose label names a maker or brand
    vendor_agrees: int
    name_agrees: int
    agrees: int


def dataset_rows(figs: list[DeviceFigures]) -> list[DatasetRow]:
    rows = []
    for ds in dict.fromkeys(f.dataset for f in figs):
        fs = [f for f in figs if f.dataset == ds]
        named = [f for f in fs if f.agrees is not None]
        total = {
            k: sum(getattr(f, k) for f in fs) for k in ("captures", "flows", "attributed", "begun_by_other")
        }
        rows.append(
            DatasetRow(
                ds, devices=len(fs), found=sum(f.found_in == f.captures for f in fs),
                captures_found=sum(f.found_in for f in fs), named=len(named),
                vendor_agrees=sum(bool(f.vendor_agrees) for f in named),
                name_agrees=sum(bool(f.name_agrees) for f in named),
                agrees=sum(bool(f.agrees) for f in named),
                **total,
            )
        )  # fmt: skip
    return rows


@dataclass
class ReferenceRow:
    dataset: str
    captures: int
    ref_flows: int | None  # None: the reference gives no flows
    unreadable: int = 0
    matched: int = 0
    ref_names: int = 0
    agreeing: int = 0
    flows: int = 0  # the replay's flows
    with_device: int = 0
    flows_no_mac: int = 0  # of them, in captures whose link layer carries no MACs
    with_device_no_mac: int = 0
    note: str = ""


def reference_row(dataset: str, cs: list[references.CaptureFigures], flows: bool = True) -> ReferenceRow:
    nomac = [c for c in cs if not c.has_macs]
    return ReferenceRow(
        dataset, len(cs), sum(c.ref_flows for c in cs) if flows else None,
        unreadable=sum(1 for c in cs if c.error), matched=sum(c.matched for c in cs),
        ref_names=sum(sum(c.ref_names.values()) for c in cs),
        agreeing=sum(sum(c.agreeing.values()) for c in cs),
        flows=sum(c.flows for c in cs), with_device=sum(c.with_device for c in cs),
        flows_no_mac=sum(c.flows for c in nomac), with_device_no_mac=sum(c.with_device for c in nomac),
    )  # fmt: skip


def stratosphere_row() -> ReferenceRow:
    base = SHARED / "stratosphere-security-datasets-for-testing"
    logs = sorted(p for p in base.rglob("conn.log*") if p.is_file())
    rows = sum(len(read_conn(p)) for p in logs)
    why = f"n/a: {len(logs)} labelled Zeek conn logs ({rows} flows), no packets; "
    why += "tapaudit cannot read Zeek logs yet"
    return ReferenceRow("Stratosphere", len(logs), rows, note=why)


@dataclass
class Table:
    devices: list[DeviceFigures]
    datasets: list[DatasetRow]
    refs: list[ReferenceRow]
    captures: dict[str, list[references.CaptureFigures]]
    seconds: float = 0.0


def table() -> Table:
    t0 = time.perf_counter()
    figs = [device_figures(label) for label in all_labels()]
    caps = {"nDPI": references.ndpi(), "Zeek": references.zeek(), "Suricata": references.suricata()}
    refs = [
        reference_row("nDPI", caps["nDPI"]),
        reference_row("Zeek", caps["Zeek"]),
        reference_row("Suricata", caps["Suricata"], flows=False),
        stratosphere_row(),
    ]
    return Table(figs, dataset_rows(figs), refs, caps, time.perf_counter() - t0)


# ---- rendering ------------------------------------------------------------------------------------


def pct(n: int, d: int | None) -> str:
    return f"{n}/{d} ({100 * n / d:.1f}%)" if d else "–"


def _yes(v: bool | None) -> str:
    return "–" if v is None else ("yes" if v else "no")


def markdown(t: Table) -> str:
    out = [
        "| dataset | captures | labelled devices | found in every capture | captures where found | "
        "flows attributed to the labelled device | the rest: local, begun by another device | "
        "names agree (vendor / name / either) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in t.datasets:
        names = (
            f"{r.vendor_agrees} / {r.name_agrees} / {r.agrees} of {r.named}" if r.named else "– (no maker)"
        )
        out.append(
            f"| {r.dataset} | {r.captures} | {r.devices} | {r.found} | {pct(r.captures_found, r.captures)} "
            f"| {pct(r.attributed, r.flows)} | {r.begun_by_other} | {names} |"
        )
    out += [
        "",
        "| reference | captures | reference flows matched (5-tuple) | reference names agreeing | "
        "replay's flows with a device | the same, captures without MACs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for x in t.refs:
        if x.note:
            out.append(f"| {x.dataset} | {x.captures} | {x.note} | – | – | – |")
            continue
        unread = f" ({x.unreadable} unreadable)" if x.unreadable else ""
        out.append(
            f"| {x.dataset} | {x.captures}{unread} | {pct(x.matched, x.ref_flows)} | "
            f"{pct(x.agreeing, x.ref_names)} | {pct(x.with_device, x.flows)} | "
            f"{pct(x.with_device_no_mac, x.flows_no_mac)} |"
        )
    out += [
        "",
        "| device | label | found | flows attributed | begun by another | OUI vendor | names shown | "
        "vendor / name agree |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    for f in t.devices:
        names = ", ".join(sorted(f.names)[:4]) + (" …" if len(f.names) > 4 else "")
        gw = "" if f.gateway_found is None else f"; gateway {'found' if f.gateway_found else 'NOT found'}"
        out.append(
            f"| {f.dataset}: {f.device} | {f.label} | {f.found_in}/{f.captures} "
            f"| {pct(f.attributed, f.flows)} | {f.begun_by_other} | {', '.join(sorted(f.vendors)) or '–'} "
            f"| {names or '–'} "
            f"| {_yes(f.vendor_agrees)} / {_yes(f.name_agrees)}{gw} |"
        )
    named: Counter[str] = Counter()
    agree: Counter[str] = Counter()
    for c in t.captures["nDPI"]:
        named.update(c.ref_names)
        agree.update(c.agreeing)
    out += [
        "",
        "nDPI names by protocol (agreeing/named): "
        + ", ".join(f"{k} {agree[k]}/{n}" for k, n in named.most_common()),
    ]
    return "\n".join(out) + "\n"


def as_json(t: Table) -> str:
    def plain(o: Any) -> Any:
        if isinstance(o, set):
            return sorted(o)
        raise TypeError(type(o))

    def capture(c: references.CaptureFigures) -> dict[str, Any]:
        # by hand: asdict would rebuild each Counter from (key, count) pairs, counting the pairs
        return {
            **vars(c),
            "ref_names": dict(c.ref_names),
            "agreeing": dict(c.agreeing),
            "has_macs": c.has_macs,
        }

    data = {
        "devices": [asdict(f) for f in t.devices],
        "datasets": [asdict(r) for r in t.datasets],
        "references": [asdict(r) for r in t.refs],
        "captures": {k: [capture(c) for c in v] for k, v in t.captures.items()},
        "seconds": round(t.seconds, 2),
    }
    return json.dumps(data, default=plain, indent=1)


def main(argv: list[str]) -> int:
    if not SHARED.exists():
        print(f"error: {SHARED} is missing: the table reads the shared captures", file=sys.stderr)
        return 2
    t = table()
    print(as_json(t) if "--json" in argv else markdown(t) + f"\n({t.seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
