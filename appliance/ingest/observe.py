"""Application records to personal-data observations: the content detectors run on what devices send.

A device sends data in HTTP requests (query, headers, body), MQTT (CONNECT's client id
and user name, PUBLISH payloads), CoAP and RTSP messages. Each hit becomes a row of
``observations`` with the value's type, where it was, its precision, a keyed hash (HMAC
under the masking key, kept outside the data folder: ``appliance.masking_key``; equal values
can be counted without being stored) and a masked excerpt; the value itself only with raw
evidence on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from appliance.ingest.owner import Attribution, owner
from appliance.lab.phases import UNMARKED, Phases
from appliance.masking import mask_hit
from appliance.store.schema import OBSERVATIONS
from parsers.detect.coordsys import UNKNOWN, system_of_host
from parsers.detect.hits import Hit
from parsers.detect.persona import PersonaMatcher
from parsers.detect.scan import scan, scan_leaves
from parsers.detect.values import Leaf
from parsers.events import AppRecord, HttpRecord, Record
from parsers.protocols import rtp
from parsers.protocols.http import HttpRequest

SKIP_HEADERS = frozenset(
    ("host", "content-length", "content-type", "connection", "accept", "accept-encoding",
     "accept-language", "transfer-encoding", "date", "cache-control", "expect")
)  # fmt: skip


# The observations row by column name, compiled once (``Table.builder``: no keywords bound per row).
_ROW = OBSERVATIONS.builder(
    "ob, rec, fid, dev, remote, proto, carrier, h, system, digest, excerpt, phase",
    {
        "capture_id": "ob.cid",
        "ingest_id": "ob.ingest",
        "flow_id": "fid",
        "ts_ns": "rec.ts",
        "device_mac": "dev",
        "remote_ip": "remote",
        "protocol": "proto",
        "carrier": "carrier",
        "data_type": "h.data_type",
        "path": "h.path",
        "confidence": "h.confidence",
        "decimals": "h.decimals",
        "metres": "h.metres",
        "coord_system": "system",
        "value_hash": "digest",
        "excerpt": "excerpt",
        "detail": "json.dumps(h.detail, sort_keys=True, default=str) if h.detail else '{}'",  # most are empty
        "phase": "phase",
        "plaintext": "getattr(rec, 'plain_source', 'clear')",
    },
    {"json": json},
)


class Observer:
    def __init__(
        self,
        capture_id: str,
        ingest_id: int,
        who: Attribution,
        key: bytes,
        personas: Mapping[str, Mapping[str, Any]],
        raw: bool = False,
        phases: Phases | None = None,
    ) -> None:
        self.cid, self.ingest = capture_id, ingest_id  # every row's first columns
        self.who = who  # names each record's device (owner)
        self.phases = phases
        self.key = key
        # HMAC-SHA256 under the key with the key's pads already hashed: each value costs one copy (RFC 2104)
        self.keyed = hmac.new(key, digestmod=hashlib.sha256)
        self.raw = raw
        self.personas = {mac: PersonaMatcher(p) for mac, p in personas.items() if p}

    def observe(self, rec: Record) -> list[tuple[Any, ...]]:
        """Observation rows for one record (none for records that carry nothing a device sent)."""
        if isinstance(rec, HttpRecord) and isinstance(rec.msg, HttpRequest) and rec.up:
            o = owner(rec.flow, self.who)
            fid, dev = o.flow_id, o.device
            persona = self.personas.get(dev)
            m = rec.msg
            found = [("http.query", h) for h in scan(m.query.encode("latin-1", "replace"), "", persona)]
            headers = [
                Leaf(f"header:{k.lower()}", k, v, -2) for k, v in m.headers if k.lower() not in SKIP_HEADERS
            ]
            found += [("http.header", h) for h in scan_leaves(headers, persona)]
            found += [("http.body", h) for h in scan(m.body, m.header("content-type"), persona)]
            return self._rows(rec, fid, dev, "http", found, m.header("host"))
        if (
            isinstance(rec, AppRecord)
            and rec.protocol in ("mqtt", "coap", "rtsp", "websocket", "raw")
            and rec.up == owner(rec.flow, self.who).device_first  # sent by the device, whichever end began
        ):
            o = owner(rec.flow, self.who)
            fid, dev = o.flow_id, o.device
            persona = self.personas.get(dev)
            leaves = [
                Leaf(f"{rec.kind}:{k}", k, str(v), -3) for k, v in rec.detail.items() if isinstance(v, str)
            ]
            if rec.name and all(leaf.value != rec.name for leaf in leaves):  # MQTT's topic is a field already
                leaves.append(Leaf(f"{rec.kind}:name", "", rec.name, -3))
            carrier = f"{rec.protocol}.{rec.kind}"
            found = [(carrier, h) for h in scan_leaves(leaves, persona)]
            found += [(carrier, h) for h in scan(rec.payload, "", persona)]
            # raw UDP and RTSP interleaved data may be RTP media, which has no magic bytes
            media = rtp.find(rec.payload) if rec.kind in ("udp", "interleaved") else None
            if media is not None:
                found.append((carrier, media))
            return self._rows(rec, fid, dev, rec.protocol, found)
        return []

    def _rows(
        self, rec: Record, fid: int, dev: str, proto: str, found: list[tuple[str, Hit]], host: str = ""
    ) -> list[tuple[Any, ...]]:
        """Observation rows; a location whose payload named no coordinate system takes the documented
        default of the map API it was sent to (``coordsys.system_of_host``: Amap GCJ-02...)."""
        if not found:
            return []
        f = rec.flow
        phase = self.phases.at(rec.ts, dev) if self.phases else UNMARKED
        persona = self.personas.get(dev)
        home = persona.home if persona is not None else None
        remote = owner(f, self.who).remote_ip  # the non-device end, as flows.remote_ip has it
        out = []
        for carrier, h in found:
            system = str(h.detail.get("system", "")) if h.data_type == "location" else ""
            if system == UNKNOWN and host and (by_host := system_of_host(host)):  # asked only then
                system = h.detail["system"] = by_host
                h.detail["system_from"] = "host"
            if home is not None and system:
                home.mark(h)  # in the system just settled: the distance class goes into detail
            keyed = self.keyed.copy()
            keyed.update(f"{h.data_type}\x00{h.value}".encode())
            digest = keyed.hexdigest()[:16]
            excerpt = h.value if self.raw else mask_hit(h.data_type, h.value)
            out.append(_ROW(self, rec, fid, dev, remote, proto, carrier, h, system, digest, excerpt, phase))
        return out
