"""Per-stream readers: which record each Zeek log's row becomes (``STREAM_READERS``, in the order
they run: ssl.log before quic.log, so a QUIC handshake logged in both is one TLS record).

Field names are those of Zeek's base and policy scripts (``DNS::Info``, ``SSL::Info``,
``QUIC::Info``, ``HTTP::Info``, ``DHCP::Info``, ``MQTT::ConnectInfo``/``PublishInfo``/
``SubscribeInfo``, ``Files::Info``, ``Known::HostsInfo``/``ServicesInfo``, ``Software::Info``).
Logs whose rows name no connection (known_hosts, known_services, software) say which hosts and
services a sensor saw; they are counted (``ZeekRead.streams``) and, for software, kept as
app records on a flow of that host when there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from parsers.zeek.inputs import LogFile
from parsers.zeek.logfile import as_list
from parsers.zeek.records import (
    LogReader,
    ZeekRead,
    app_record,
    dhcp_records,
    dns_records,
    http_records,
    tls_record,
)

Reader = Callable[[LogReader, dict[str, Any]], None]


def _dns(r: LogReader, row: dict[str, Any]) -> None:
    for rec in dns_records(r, row):
        r.add(rec)


def _ssl(r: LogReader, row: dict[str, Any]) -> None:
    f = r.by_uid.get(str(row.get("uid") or ""))
    transport = "quic" if f is not None and f.proto == 17 else "tcp"
    rec = tls_record(r, row, transport)
    if rec is not None:
        r.add(rec)
        r.tls_uids[str(row.get("uid") or "")] = rec


def _quic(r: LogReader, row: dict[str, Any]) -> None:
    uid = str(row.get("uid") or "")
    known = r.tls_uids.get(uid) if uid else None
    if known is not None:  # the handshake is in ssl.log already: the flow is QUIC, no second record
        known.transport = "quic"  # (ssl.log read without its conn.log could not tell)
        s = r._session(known.flow, ["quic"])
        s.security = "quic"
        return
    shaped = {**row, "next_protocol": (as_list(row.get("client_protocol")) or [""])[0], "version": ""}
    rec = tls_record(r, shaped, "quic")
    if rec is not None:
        r.add(rec)
        r.tls_uids[uid] = rec


def _http(r: LogReader, row: dict[str, Any]) -> None:
    for rec in http_records(r, row):
        r.add(rec)


def _dhcp(r: LogReader, row: dict[str, Any]) -> None:
    events, apps = dhcp_records(r, row)
    for ev in events:
        r.event(ev)
    for rec in apps:
        r.add(rec)


def _mqtt(kind: str, name_key: str, fields: tuple[str, ...]) -> Reader:
    def read(r: LogReader, row: dict[str, Any]) -> None:
        rec = app_record(r, row, "mqtt", kind, name_key, fields)
        if rec is not None:
            r._session(rec.flow, ["mqtt"])
            r.add(rec)

    return read


def _files(r: LogReader, row: dict[str, Any]) -> None:
    uids = as_list(row.get("conn_uids")) or ([str(row["uid"])] if row.get("uid") else [])
    shaped = {**row, "uid": uids[0] if uids else ""}
    fields = ("source", "mime_type", "filename", "total_bytes", "seen_bytes", "md5", "sha1", "sha256")
    rec = app_record(r, shaped, "zeek-files", "file", "filename", fields)
    if rec is not None:
        r.add(rec)


def _counted(r: LogReader, row: dict[str, Any]) -> None:
    """Rows that name a host, not a connection: counted with their stream."""


STREAM_READERS: dict[str, Reader] = {
    "dns": _dns,
    "ssl": _ssl,
    "quic": _quic,
    "http": _http,
    "dhcp": _dhcp,
    "mqtt_connect": _mqtt(
        "connect", "client_id", ("proto_name", "proto_version", "client_id", "connect_status")
    ),
    "mqtt_publish": _mqtt("publish", "topic", ("topic", "qos", "status", "payload_len", "from_client")),
    "mqtt_subscribe": _mqtt("subscribe", "topics", ("action", "topics", "qos_levels", "granted_qos_level")),
    "files": _files,
    "known_hosts": _counted,
    "known_services": _counted,
    "software": _counted,
}


def read_logs(logs: list[LogFile]) -> ZeekRead:
    """A set of logs as flows and records: conn.log first (the flows), x509.log (the certificates
    ssl.log names), then every other stream a reader knows; the rest are counted as not read."""
    r = LogReader(logs)
    for row in r.rows("conn"):
        r.conn(row)
    for row in r.rows("x509"):
        r.x509(row)
    for stream, reader in STREAM_READERS.items():
        for row in r.rows(stream):
            reader(r, row)
    for stream in r.streams():
        if stream not in STREAM_READERS and stream not in ("conn", "x509"):
            r.out.stats[f"stream_not_read_{stream}"] = 1
    return r.finish()
