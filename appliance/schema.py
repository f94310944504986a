"""The storage schema, declared once; DDL and insert column lists come from here.

Types are limited to what ClickHouse 18.16 (Debian bookworm's server) and current
ClickHouse (chDB) both accept: no DateTime64, LowCardinality, IPv4/IPv6 domains
or Map. Timestamps are UInt64 nanoseconds since the epoch, with a DateTime
column where a table is partitioned or ordered by time.

Every row carries ``capture_id`` (the sha256 of the capture's bytes) and
``ingest_id`` (the ingestion run, a unique nanosecond stamp), which makes
re-ingestion idempotent without mutations: a run writes its rows, then its
``captures`` row as the commit marker; readers see only each capture's latest
committed run (``queries.CURRENT``). A complete capture is skipped unless forced;
rows of a crashed run stay invisible, and a run that supersedes a committed one
deletes the older run's rows once it has committed (``Store.drop_runs``), so a
crash at any point loses nothing that was committed.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str
    default: str = ""  # a DEFAULT expression: ClickHouse computes the value, inserts leave it out


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]
    order_by: str
    partition_by: str = ""
    engine: str = "MergeTree()"

    @property
    def names(self) -> list[str]:
        """Columns a row tuple gives, in order (computed DEFAULT columns are not given)."""
        return [c.name for c in self.columns if not c.default]

    @property
    def inserted(self) -> list[Column]:
        return [c for c in self.columns if not c.default]

    def ddl(self, database: str) -> str:
        cols = ",\n".join(
            f"    `{c.name}` {c.type}" + (f" DEFAULT {c.default}" if c.default else "") for c in self.columns
        )
        part = f"\nPARTITION BY {self.partition_by}" if self.partition_by else ""
        return (
            f"CREATE TABLE IF NOT EXISTS `{database}`.`{self.name}` (\n{cols}\n)"
            f"\nENGINE = {self.engine}{part}\nORDER BY ({self.order_by})"
        )


def C(name: str, type_: str, doc: str, default: str = "") -> Column:
    return Column(name, type_, doc, default)


CAPTURES = Table(
    "captures",
    "One row per ingested capture (a file, or the rotated files of one directory/glob).",
    (
        C("capture_id", "String", "sha256 of the capture bytes (of the files' sha256s, for several files)"),
        C("ingest_id", "UInt64", "ingestion run (ns stamp); the newest committed run is current"),
        C("path", "String", "the PATH argument as given"),
        C("files", "Array(String)", "files in replay order"),
        C("file_sha256", "Array(String)", "sha256 of each file"),
        C("format", "String", "pcap, pcapng, or both"),
        C("compressed", "UInt8", "1 if any file was gzip-compressed"),
        C("packets", "UInt64", "records read"),
        C("bytes", "UInt64", "captured bytes of all records"),
        C("first_ns", "UInt64", "first packet timestamp, ns since epoch"),
        C("last_ns", "UInt64", "last packet timestamp, ns since epoch"),
        C("link_types", "Array(String)", "link types present"),
        C("truncated", "UInt8", "1 if the capture ended inside a record or had a corrupt header"),
        C("read_error", "String", "why reading stopped early"),
        C("skipped_packets", "UInt64", "packets of unsupported link types or undecodable headers"),
        C("decode_stats", "String", "JSON of the meter's counters (malformed per dissector, fragments...)"),
        C("flows", "UInt64", "flow records written"),
        C("devices", "UInt64", "local devices found"),
        C("idle_timeout_s", "Float64", "flow idle timeout used"),
        C("active_timeout_s", "Float64", "flow active timeout used"),
        C("lan_prefixes", "Array(String)", "prefixes that counted as local"),
        C("bench_sha256", "String", "sha256 of the bench file used, if any"),
        C("tool_version", "String", "tapaudit version that wrote the rows"),
        C("ingested_at", "DateTime", "wall-clock time of ingestion (UTC)"),
        C("status", "String", "complete"),
    ),
    order_by="capture_id, ingest_id",
)

DEVICES = Table(
    "devices",
    "Local devices by MAC, per capture; the bench file's fields override what is inferred.",
    (
        C("capture_id", "String", "capture the row was derived from"),
        C("ingest_id", "UInt64", "ingestion run (ns stamp); the newest committed run is current"),
        C("mac", "String", "aa:bb:cc:dd:ee:ff"),
        C("oui_vendor", "String", "IEEE OUI registrant (netaddr's copy of the registry)"),
        C("name", "String", "bench name, else DHCP hostname, else mDNS name"),
        C("category", "String", "bench category, else 'unknown'"),
        C("vendor", "String", "bench vendor, else OUI vendor"),
        C("model", "String", "bench model"),
        C("firmware", "String", "bench firmware"),
        C("on_bench", "UInt8", "1 if listed in the bench file"),
        C("role", "String", "device, or gateway when it forwards remote traffic"),
        C("dhcp_hostname", "String", "DHCP option 12 (last seen)"),
        C("dhcp_vendor_class", "String", "DHCP option 60"),
        C("dhcp_prl", "String", "DHCP option 55 in request order, comma-separated"),
        C("dhcp_fingerprint", "String", "sha1 of vendor class and parameter request list"),
        C("dhcp_client_id", "String", "DHCP option 61, hex"),
        C("mdns_names", "Array(String)", "names announced over mDNS"),
        C("ssdp_names", "Array(String)", "SSDP SERVER headers and USN uuids"),
        C("ipv4", "Array(String)", "IPv4 addresses seen"),
        C("ipv6", "Array(String)", "IPv6 addresses seen"),
        C("first_ns", "UInt64", "first evidence, ns"),
        C("last_ns", "UInt64", "last evidence, ns"),
    ),
    order_by="capture_id, ingest_id, mac",
)

DEVICE_ADDRESSES = Table(
    "device_addresses",
    "Which MAC used which IP address, when, and how we know.",
    (
        C("capture_id", "String", "capture"),
        C("ingest_id", "UInt64", "ingestion run (ns stamp); the newest committed run is current"),
        C("mac", "String", "device MAC"),
        C("address", "String", "IPv4 or IPv6 address"),
        C("family", "UInt8", "4 or 6"),
        C("source", "String", "arp, dhcp, ndp or traffic"),
        C("first_ns", "UInt64", "first time seen, ns"),
        C("last_ns", "UInt64", "last time seen, ns"),
        C("observations", "UInt64", "how many times seen"),
    ),
    order_by="capture_id, ingest_id, mac, address, source",
)

FLOWS = Table(
    "flows",
    "Bidirectional flows; src is the initiator. Bytes are IP bytes, payload is the transport payload.",
    (
        C("capture_id", "String", "capture"),
        C("ingest_id", "UInt64", "ingestion run (ns stamp); the newest committed run is current"),
        C("flow_id", "UInt64", "stable id: hash of protocol, endpoints, first timestamp and VLAN"),
        C(
            "start",
            "DateTime",
            "first packet, seconds (for partitioning and time filters)",
            default="toDateTime(intDiv(first_ns, 1000000000))",
        ),
        C("first_ns", "UInt64", "first packet, ns"),
        C("last_ns", "UInt64", "last packet, ns"),
        C("ip_version", "UInt8", "4 or 6"),
        C("proto", "UInt8", "IP protocol number"),
        C("src_ip", "String", "initiator address"),
        C("src_port", "UInt16", "initiator port (ICMP: type)"),
        C("dst_ip", "String", "responder address"),
        C("dst_port", "UInt16", "responder port (ICMP: reply type or code)"),
        C("src_mac", "String", "initiator's link-layer source"),
        C("dst_mac", "String", "responder's link-layer source"),
        C("vlan", "UInt16", "outer 802.1Q id, 0 if untagged"),
        C("device_mac", "String", "the local device this flow belongs to"),
        C("direction", "String", "outbound, inbound, local or multicast (relative to the device)"),
        C("remote_ip", "String", "the non-device end"),
        C("remote_port", "UInt16", "the non-device end's port"),
        C("pkts_up", "UInt64", "packets initiator to responder"),
        C("pkts_down", "UInt64", "packets responder to initiator"),
        C("bytes_up", "UInt64", "IP bytes initiator to responder"),
        C("bytes_down", "UInt64", "IP bytes responder to initiator"),
        C("payload_up", "UInt64", "transport payload bytes up"),
        C("payload_down", "UInt64", "transport payload bytes down"),
        C("tcp_flags_up", "UInt8", "union of TCP flags sent by the initiator"),
        C("tcp_flags_down", "UInt8", "union of TCP flags sent by the responder"),
        C("tcp_state", "String", "established, closed, half_closed, reset, rejected, syn_sent, midstream"),
        C("handshake", "UInt8", "1 if SYN and SYN-ACK were both seen"),
        C("end_reason", "String", "idle, active, fin, rst, eof or evicted"),
        C("segment", "UInt16", "0, or n for the n-th continuation after active timeouts"),
    ),
    order_by="capture_id, ingest_id, flow_id",
    partition_by="toYYYYMM(start)",
)

META = Table(
    "meta",
    "Schema version and other store-wide facts.",
    (C("key", "String", "name"), C("value", "String", "value")),
    order_by="key",
    engine="ReplacingMergeTree()",
)

TABLES: tuple[Table, ...] = (META, CAPTURES, DEVICES, DEVICE_ADDRESSES, FLOWS)
BY_NAME = {t.name: t for t in TABLES}


def ddl_statements(database: str) -> list[str]:
    return [f"CREATE DATABASE IF NOT EXISTS `{database}`"] + [t.ddl(database) for t in TABLES]
