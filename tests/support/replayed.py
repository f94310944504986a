"""Test harness: a capture replayed as ``tapaudit replay`` does, with the rows kept in memory.

The labelled-captures table (``tests.support.labelled``) must show what a user gets from a
replay: which device each flow is charged to, which devices the inventory lists and what it
calls them, which names the DNS, TLS, HTTP and DHCP rows carry. ``replayed`` runs the replay's
own ``Pipeline`` with the replay's default options (masking on, default LAN) and keeps the rows
it would write, instead of writing them to ClickHouse: the same rows, a hundred times cheaper for
the 1,000 captures the table reads. ``tests/conformance/test_labelled_table.py`` checks that a
real replay into chDB stores the same per-device flow counts.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.ingest.pipeline import Pipeline
from appliance.ingest.replay import ReplayOptions
from appliance.ingest.sources import PcapSource
from appliance.store.schema import APP_EVENTS, DEVICES, DNS, FLOWS, HTTP, TLS
from parsers.capture import CaptureError
from parsers.linklayer import linktype_name

# Columns of the dns table that hold more questions or the authority section's owner names, when
# the schema has them (names like ``question_names``, ``authority_names``).
QUESTIONS = [DNS.names.index(c) for c in DNS.names if c.startswith("question") and c.endswith("names")]
AUTHORITIES = [DNS.names.index(c) for c in DNS.names if c.startswith("authorit") and c.endswith("names")]
HASH_KEY = b"labelled-table-key"  # the observer's hashing key: observations are not read here
PROTO = {6: "TCP", 17: "UDP"}


@dataclass(frozen=True)
class FlowRow:
    """The columns of a ``flows`` row the table reads."""

    flow_id: int
    proto: str  # TCP, UDP or the IP protocol number
    src: tuple[str, int]
    dst: tuple[str, int]
    src_mac: str
    dst_mac: str
    device_mac: str  # "" when the replay charged the flow to no device
    direction: str

    @property
    def key(self) -> tuple[str, frozenset[tuple[str, int]]]:
        """Protocol and unordered endpoints, as nDPI and Zeek name a flow whichever end began it."""
        return self.proto, frozenset((self.src, self.dst))


@dataclass
class Replayed:
    """What one replay of a capture produced."""

    path: Path
    error: str = ""  # the one-line error a replay printed, when the capture could not be read
    link_types: list[str] = field(default_factory=list)
    flows: list[FlowRow] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    # flow_id -> (source, name); sources: dns (a question), dns-answer, dns-authority, sni, quic, http, dhcp
    names: dict[int, set[tuple[str, str]]] = field(default_factory=dict)

    def names_of(self, flow_ids: set[int]) -> set[tuple[str, str]]:
        return {n for f in flow_ids for n in self.names.get(f, ())}


def _each(value: Any) -> list[str]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _name_rows(out: Replayed, table: str, rows: list[tuple[Any, ...]]) -> None:
    """(source, name) pairs by flow: DNS questions and answer owners, SNI, Host, DHCP host names."""
    if table == "dns":
        qname, answers = DNS.names.index("qname"), DNS.names.index("answer_names")
        fid = DNS.names.index("flow_id")
        for r in rows:
            got = out.names.setdefault(r[fid], set())
            got.update(("dns", n) for n in (r[qname], *(r[i] for i in QUESTIONS)) for n in _each(n) if n)
            got.update(("dns-answer", n) for n in r[answers] if n)
            got.update(("dns-authority", n) for i in AUTHORITIES for n in r[i] if n)
    elif table == "tls":
        sni, transport, fid = (TLS.names.index(c) for c in ("sni", "transport", "flow_id"))
        for r in rows:
            if r[sni]:
                out.names.setdefault(r[fid], set()).add(("quic" if r[transport] == "quic" else "sni", r[sni]))
    elif table == "http":
        host, fid = HTTP.names.index("host"), HTTP.names.index("flow_id")
        for r in rows:
            if r[host]:
                out.names.setdefault(r[fid], set()).add(("http", r[host]))
    elif table == "app_events":
        proto, name, fid = (APP_EVENTS.names.index(c) for c in ("protocol", "name", "flow_id"))
        for r in rows:
            if r[proto] == "dhcp" and r[name]:
                out.names.setdefault(r[fid], set()).add(("dhcp", r[name]))


def _flow_rows(rows: list[tuple[Any, ...]]) -> list[FlowRow]:
    i = {c: FLOWS.names.index(c) for c in FLOWS.names}
    return [
        FlowRow(
            r[i["flow_id"]],
            PROTO.get(r[i["proto"]], str(r[i["proto"]])),
            (r[i["src_ip"]], r[i["src_port"]]),
            (r[i["dst_ip"]], r[i["dst_port"]]),
            r[i["src_mac"]],
            r[i["dst_mac"]],
            r[i["device_mac"]],
            r[i["direction"]],
        )
        for r in rows
    ]


@functools.cache
def replayed(path: Path) -> Replayed:
    """One capture through the replay's pipeline (cached for the session: several rows read the
    same capture)."""
    out = Replayed(path)

    def write(table: str, rows: list[tuple[Any, ...]]) -> None:
        if table == "flows":
            out.flows += _flow_rows(rows)
        else:
            _name_rows(out, table, rows)

    try:
        src = PcapSource(str(path))
        pipe = Pipeline.from_options(src.capture_id, 1, write, ReplayOptions(), HASH_KEY)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cryptography warns about odd certificate serials
            for batch in src.batches():
                pipe.feed_many(batch)
            pipe.finish()
    except CaptureError as exc:
        out.error = str(exc)
        return out
    out.error = src.stats.error
    out.link_types = sorted(linktype_name(lt) for lt in src.stats.link_types)
    devices, _addresses = pipe.device_rows()
    out.devices = [dict(zip(DEVICES.names, r, strict=True)) for r in devices]
    return out


def table_rows(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row the replay's pipeline would write for ``path``, by table, each as {column: value}
    (masking on, as ``tapaudit replay`` stores them). Capture errors raise ``CaptureError``."""
    from appliance.store.schema import TABLES

    names = {t.name: t.names for t in TABLES}
    out: dict[str, list[dict[str, Any]]] = {}

    def write(table: str, rows: list[tuple[Any, ...]]) -> None:
        out.setdefault(table, []).extend(dict(zip(names[table], r, strict=True)) for r in rows)

    src = PcapSource(str(path))
    pipe = Pipeline.from_options(src.capture_id, 1, write, ReplayOptions(), HASH_KEY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for batch in src.batches():
            pipe.feed_many(batch)
        pipe.finish()
    return out
