"""What a finding states that Wireshark can check, read from the store (issue 22).

A finding names its flows; what tapaudit read from those flows' packets is in the ``flows``,
``tls``, ``http``, ``app_events``, ``dns`` and ``observations`` rows of them. Each distinct value
becomes a claim, named by the Wireshark field that should carry it (tshark 4.0 field names,
https://www.wireshark.org/docs/dfref/). A personal value is a claim by its keyed hash only
(``observations.value_hash``, HMAC-SHA256 as ``appliance.ingest.observe`` makes it), with its
masked excerpt to show: the raw value is never read here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from appliance.store.backends import Store

# The most personal-value claims checked per finding: the rest are the same kinds of values in the
# same messages; one check each would only make a long finding slow (the check is per value).
MAX_VALUES = 40


@dataclass
class Claim:
    claim: str  # "server name", "http host", ...
    fields: tuple[str, ...]  # Wireshark fields that carry it, in order of preference
    expected: str  # as stored (masked where the store masks it)
    value_hash: str = ""  # personal value: its keyed hash
    data_type: str = ""  # personal value: its data type
    encrypted: bool = False  # read from decrypted TLS (the packets need the keys to show it)


@dataclass
class Claims:
    items: list[Claim] = field(default_factory=list)

    def add(self, claim: Claim) -> None:
        key = (claim.claim, claim.expected, claim.value_hash)
        if all((c.claim, c.expected, c.value_hash) != key for c in self.items):
            self.items.append(claim)


def _decrypted(row: dict[str, Any]) -> bool:
    return str(row.get("plaintext", "clear")) not in ("", "clear")


def claims_of(store: Store, fnd: dict[str, Any]) -> list[Claim]:
    """The claims of one finding (``queries.finding`` row), from its flows' rows."""
    cid = str(fnd["capture_id"])
    ids = [int(i) for i in fnd["flow_ids"]]
    out = Claims()
    if not ids:
        return []
    p: dict[str, Any] = {"c": cid, "ids": ids, "ing": int(fnd["ingest_id"])}
    scope = "capture_id = %(c)s AND has(%(ids)s, flow_id) AND ingest_id = %(ing)s"
    for r in store.query(f"SELECT DISTINCT dst_ip FROM {{db}}.flows WHERE {scope} ORDER BY dst_ip", p):
        out.add(Claim("destination address", ("ip.addr", "ipv6.addr"), str(r["dst_ip"])))
    for r in store.query(f"SELECT DISTINCT sni FROM {{db}}.tls WHERE {scope} AND sni != '' ORDER BY sni", p):
        out.add(
            Claim("server name", ("tls.handshake.extensions_server_name", "gquic.tag.sni"), str(r["sni"]))
        )
    http = store.query(
        f"""SELECT DISTINCT host, path, plaintext FROM {{db}}.http WHERE {scope} AND is_response = 0
        ORDER BY host, path""",
        p,
    )
    for r in http:
        enc = _decrypted(r)
        if r["host"]:
            out.add(
                Claim("http host", ("http.host", "http2.headers.authority"), str(r["host"]), encrypted=enc)
            )
        if r["path"]:
            fields = ("http.request.uri.path", "http.request.uri", "http2.headers.path")
            out.add(Claim("http path", fields, str(r["path"]), encrypted=enc))
    events = store.query(
        f"""SELECT DISTINCT protocol, name, plaintext FROM {{db}}.app_events WHERE {scope} AND name != ''
        AND ((protocol = 'mqtt' AND kind = 'publish') OR (protocol = 'coap' AND up = 1)) ORDER BY name""",
        p,
    )
    for r in events:
        if r["protocol"] == "mqtt":
            out.add(Claim("mqtt topic", ("mqtt.topic",), str(r["name"]), encrypted=_decrypted(r)))
        else:
            out.add(Claim("coap path", ("coap.opt.uri_path_recon",), str(r["name"])))
    for r in store.query(
        f"SELECT DISTINCT qname FROM {{db}}.dns WHERE {scope} AND qname != '' ORDER BY qname", p
    ):
        out.add(Claim("dns name", ("dns.qry.name",), str(r["qname"])))
    types = _types(str(fnd.get("figures") or "{}"))
    if types:
        obs = store.query(
            f"""SELECT data_type, value_hash, any(excerpt) AS excerpt, any(path) AS path,
                any(plaintext) AS plaintext, any(carrier) AS carrier
            FROM {{db}}.observations WHERE {scope} GROUP BY data_type, value_hash
            ORDER BY data_type, value_hash""",
            p,
        )
        n = 0
        for r in obs:
            dt = str(r["data_type"])
            if not ({dt, dt.split(":", 1)[-1], dt.split(":", 1)[0]} & types) or n >= MAX_VALUES:
                continue
            n += 1
            out.add(
                Claim(
                    "personal value",
                    (f"{r['carrier']} {r['path']}",),
                    f"{dt} {r['excerpt']}",
                    value_hash=str(r["value_hash"]),
                    data_type=dt,
                    encrypted=_decrypted(r),
                )
            )
    return out.items


def _types(figures: str) -> set[str]:
    """The data types a finding is about (its figures' ``types`` or ``data_type``)."""
    try:
        doc = json.loads(figures)
    except ValueError:
        return set()
    if not isinstance(doc, dict):
        return set()
    got = doc.get("types") or []
    one = doc.get("data_type")
    out = {str(t) for t in got} if isinstance(got, list) else set()
    if isinstance(one, str) and one:
        out.add(one)
    return out
