"""The storage schema, declared once: DDL, insert columns, row constructors and the rollup come from here.

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

from appliance.store.table import AGG, KEY, C, Column, Table, batched
from appliance.store.table import BATCH as BATCH  # re-exported: the spool and the inserts tag rows with it

# 22: tls_tests (certificate-validation tests of the interceptor, issue 19);
# 21: flows.zeek_uid (flows replayed from Zeek logs, issue 21);
# 20: findings.fact (findings grouped by problem, issue 18);
# 19: confirmations (Wireshark's second opinion on findings, issue 22);
# 18: flows.decrypted (decrypted flows, issue 16);
# 17: capture_keys, capture_key_lines, tls.client_random (TLS keys, issue 16); 16: plaintext;
# 15: attributed_by; 14: dns sections; 13: bursts spread; 12: coord_system
SCHEMA_VERSION = 22


CAPTURES = Table(
    "captures",
    "One row per ingested capture (a file, or the rotated files of one directory/glob).",
    (
        C("capture_id", "String", "sha256 of the capture bytes (of the files' sha256s, for several files)"),
        C("ingest_id", "UInt64", "ingestion run (ns stamp); the newest committed run is current"),
        C("path", "String", "the PATH argument as given"),
        C("files", "Array(String)", "files in replay order"),
        C("file_sha256", "Array(String)", "sha256 of each file"),
        C(
            "format",
            "String",
            "pcap, pcapng, or both; zeek-tsv, zeek-json or zeek-cut for Zeek logs (no packets)",
        ),
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
        C("home", "Array(String)", "home jurisdiction (ISO country codes) for cross_border"),
        C("geoip_db", "String", "offline IP location, registry and AS databases used"),
        C("geoip_version", "String", "its version (the data's release)"),
        C("catalog_version", "String", "version of policies/catalog used for organisations"),
        C("psl_version", "String", "public suffix list snapshot used for registrable domains"),
        C("raw_evidence", "UInt8", "1 if values were stored unmasked at the user's request"),
        C("phases_sha256", "String", "sha256 of the phases file used, if any"),
        C("tool_version", "String", "tapaudit version that wrote the rows"),
        C("ingested_at", "DateTime", "wall-clock time of ingestion (UTC)"),
        C("status", "String", "complete; live while a capture session runs (its newest row counts)"),
    ),
    order_by="capture_id, ingest_id",
)

DEVICES = Table(
    "devices",
    "Local devices by MAC (by address where no MAC is known), per capture; the bench file's fields"
    " override what is inferred.",
    (
        C("capture_id", "String", "capture the row was derived from"),
        C("ingest_id", "UInt64", "ingestion run (ns stamp); the newest committed run is current"),
        C(
            "mac",
            "String",
            "aa:bb:cc:dd:ee:ff; for a device seen only by its address (attributed_by local-address),"
            " a key made from it: 06:00 and the IPv4 address, or 16 and a hash of the IPv6 address",
        ),
        C("oui_vendor", "String", "IEEE OUI registrant (netaddr's copy of the registry)"),
        C("name", "String", "bench name, else DHCP hostname, else mDNS name"),
        C("category", "String", "bench category, else 'unknown'"),
        C("vendor", "String", "bench vendor, else OUI vendor"),
        C("model", "String", "bench model"),
        C("firmware", "String", "bench firmware"),
        C("on_bench", "UInt8", "1 if listed in the bench file"),
        C("role", "String", "device, or gateway when it forwards remote traffic"),
        C(
            "attributed_by",
            "String",
            "how it was found: mac (its frames), bench-address, dhcp-lease, ndp, arp (who had the"
            " address of frames without a MAC), local-address (the address alone)",
        ),
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
        C("app", "String", "application protocol dissected (tls, http, quic, dns, mqtt...), '' if unknown"),
        C("domain", "String", "server name: TLS SNI > HTTP Host > QUIC SNI > name the device resolved"),
        C("domain_source", "String", "sni, http, quic, dns (this device), dns-other (another device), ''"),
        C("registrable", "String", "registrable domain by the public suffix list"),
        C("organisation", "String", "catalogue organisation id, '' if not catalogued"),
        C("service", "String", "catalogue service name"),
        C("service_kind", "String", "platform, cloud, analytics, push, advertising... (catalogue kinds)"),
        C("party", "String", "first, third (relative to the device vendor), unknown, or local"),
        C(
            "country",
            "String",
            "ISO country where the remote address is located (GeoLite2); '' for local, private or unknown",
        ),
        C(
            "registry_country",
            "String",
            "ISO country the remote address block is registered to (RIR delegation); '' if unknown",
        ),
        C("cross_border", "UInt8", "1 if the remote address is located outside the home jurisdiction"),
        C(
            "as_org",
            "String",
            "network operator (AS organisation) when the catalogue does not name the owner",
        ),
        C(
            "security",
            "String",
            "none, ssl3, tls1.0-tls1.3 (spelled as tls.server_version), tls (version unseen or unnamed),"
            " quic, dtls, ssh, '' if unknown",
        ),
        C("readable", "UInt8", "1 if the appliance could read the application data (in clear or decrypted)"),
        C("phase", "String", "test phase the flow began in ('unmarked' before the first mark)"),
        C(
            "decrypted",
            "String",
            "where the encrypted content was read from: tls-keylog, tls-dsb or tls-intercept; '' if not"
            " decrypted (clear, no key, bad key, or stored before schema 17)",
        ),
        C(
            "zeek_uid",
            "String",
            "Zeek's connection uid when the flow was replayed from Zeek logs (its conn.log row); ''"
            " for flows metered from packets",
        ),
    ),
    # by device: a device's flows lie together, so joins from its observations or bursts read them
    # and skip the rest (schema 9; older stores are re-sorted on upgrade)
    order_by="capture_id, ingest_id, device_mac, flow_id",
    partition_by="toYYYYMM(start)",
)


def _event_head(what: str) -> tuple[Column, ...]:
    return (
        C("capture_id", "String", "capture"),
        C("ingest_id", "UInt64", "ingestion run (ns stamp); the newest committed run is current"),
        C("flow_id", "UInt64", f"the flow that carried the {what} (flows.flow_id)"),
        C("ts_ns", "UInt64", f"time of the {what}'s first packet, ns"),
        C("device_mac", "String", "the local device of that flow"),
    )


DNS = Table(
    "dns",
    "DNS, mDNS and LLMNR transactions: a query and its response in one row (as Zeek's dns.log).",
    (
        *_event_head("transaction"),
        C("protocol", "String", "dns, mdns or llmnr"),
        C("transport", "String", "udp or tcp"),
        C("txid", "UInt16", "transaction id"),
        C("opcode", "UInt8", "opcode"),
        C("rcode", "UInt8", "response code (0 when unanswered)"),
        C("qname", "String", "first question's name"),
        C("qtype", "String", "first question's type"),
        C("qnames", "Array(String)", "every question's name (an mDNS query asks several at once)"),
        C("qtypes", "Array(String)", "every question's type"),
        C("query_seen", "UInt8", "1 if the query was captured"),
        C("answered", "UInt8", "1 if a response was captured"),
        C("rtt_ns", "UInt64", "response time after the query, ns (0 if either is missing)"),
        C("answer_names", "Array(String)", "answer owner names"),
        C("answer_types", "Array(String)", "answer types (A, AAAA, CNAME, PTR, SRV, TXT, HTTPS...)"),
        C("answer_data", "Array(String)", "answer data, printable"),
        C("answer_ttls", "Array(UInt32)", "answer TTLs, s"),
        C(
            "authority_names",
            "Array(String)",
            "authority section owner names (SOA of a negative answer, mDNS probes)",
        ),
        C("authority_types", "Array(String)", "authority record types"),
        C("authority_data", "Array(String)", "authority data, printable; TXT values masked unless raw"),
        C("additional_names", "Array(String)", "additional section owner names (EDNS OPT left out)"),
        C("additional_types", "Array(String)", "additional record types"),
        C("additional_data", "Array(String)", "additional data, printable; TXT values masked unless raw"),
    ),
    order_by="capture_id, ingest_id, device_mac, ts_ns",
)

TLS = Table(
    "tls",
    "TLS (over TCP) and QUIC handshakes as far as they are in clear, one row per connection.",
    (
        *_event_head("handshake"),
        C("transport", "String", "tcp or quic (IETF QUIC, or Google QUIC: its CHLO gives the sni alone)"),
        C("sni", "String", "server name indication"),
        C("alpn", "Array(String)", "ALPN protocols offered"),
        C(
            "client_version",
            "String",
            "highest version offered: tls1.3, tls1.2, tls1.1, tls1.0, ssl3, 0x.... if unnamed",
        ),
        C(
            "client_versions",
            "Array(String)",
            "supported_versions offered (GREASE removed), spelled as client_version",
        ),
        C("ciphers", "Array(UInt16)", "cipher suites offered, in order"),
        C("extensions", "Array(UInt16)", "extension types, in order"),
        C("ja3", "String", "JA3 hash of the ClientHello ('' for a gQUIC CHLO)"),
        C("ja4", "String", "JA4 of the ClientHello ('' for a gQUIC CHLO)"),
        C("server_version", "String", "version chosen by the server, spelled as client_version"),
        C("cipher", "UInt16", "cipher suite chosen by the server"),
        C("ja3s", "String", "JA3S hash of the ServerHello"),
        C("cert_count", "UInt8", "certificates sent in clear (TLS 1.2 and earlier)"),
        C("cert_subject", "String", "leaf certificate subject (RFC 4514)"),
        C("cert_issuer", "String", "leaf certificate issuer"),
        C("cert_sans", "Array(String)", "leaf subjectAltName DNS names and addresses"),
        C("cert_not_before", "String", "leaf validity start, ISO 8601 UTC"),
        C("cert_not_after", "String", "leaf validity end, ISO 8601 UTC"),
        C("cert_sha256", "String", "leaf certificate fingerprint"),
        C("alerts", "Array(String)", "alerts sent in clear, level:description"),
        C(
            "client_random",
            "String",
            "ClientHello random, hex (public: it is in the packets); names the flow's line in a key log",
        ),
    ),
    order_by="capture_id, ingest_id, device_mac, ts_ns",
)

# where a message's content was read (issue 16): in clear, or decrypted with a key log or with the
# capture's own Decryption Secrets Blocks (parsers.decrypt.keys.KEYLOG / DSB)
PLAINTEXT_DOC = (
    "where the content was read: clear, tls-keylog, tls-dsb or tls-intercept (decrypted; the last through"
    " the lab gateway's interceptor, issue 19); '' before schema 16"
)

HTTP = Table(
    "http",
    "HTTP/1.x and HTTP/2 requests and responses, one row per message; values masked unless raw evidence"
    " is on.",
    (
        *_event_head("message"),
        C("is_response", "UInt8", "1 for a response"),
        C("idx", "UInt32", "n-th request (or response) on the connection, HTTP/2: the stream id; pairs them"),
        C("method", "String", "request method"),
        C("host", "String", "Host header"),
        C("path", "String", "request path"),
        C("query", "String", "query string (values masked by default)"),
        C("user_agent", "String", "User-Agent or Server header"),
        C("content_type", "String", "Content-Type"),
        C("content_length", "UInt64", "body bytes on the wire (after chunked decoding)"),
        C("body_bytes", "UInt64", "body bytes after content decoding (up to the limit)"),
        C("status", "UInt16", "response status"),
        C("truncated", "UInt8", "1 if the body was cut by the capture or the size limit"),
        C("plaintext", "String", PLAINTEXT_DOC),
    ),
    order_by="capture_id, ingest_id, device_mac, ts_ns",
)

APP_EVENTS = Table(
    "app_events",
    "Messages of MQTT, CoAP, RTSP, NTP, DHCP, DHCPv6, SSDP and WebSocket, and the first bytes of flows"
    " no dissector reads; values masked unless raw evidence is on.",
    (
        *_event_head("message"),
        C("protocol", "String", "mqtt, coap, rtsp, ntp, dhcp, dhcpv6, ssdp, websocket, raw (undissected)"),
        C("kind", "String", "message kind (connect, publish, GET, request, discover...)"),
        C("up", "UInt8", "1 if sent by the flow's initiator"),
        C("name", "String", "what it is about: topic, URI, hostname, search target (masked)"),
        C("detail", "String", "the protocol's other fields as JSON (masked)"),
        C("payload_bytes", "UInt64", "application payload bytes carried"),
        C("plaintext", "String", PLAINTEXT_DOC),
    ),
    order_by="capture_id, ingest_id, device_mac, ts_ns",
)

OBSERVATIONS = Table(
    "observations",
    "Personal data found in what devices sent: one row per value, masked unless raw evidence is on.",
    (
        *_event_head("message that carried the value"),
        C("remote_ip", "String", "the other end of the flow"),
        C("protocol", "String", "http, mqtt, coap, rtsp... (the record that carried it)"),
        C("carrier", "String", "where in the message: http.query, http.body, http.header, mqtt.publish..."),
        C("data_type", "String", "location, wifi_scan, cell_tower, imei, phone, persona:phone, image, ..."),
        C("path", "String", "field path or offset inside the carrier ($.loc.lat, form:imei, header:x-imei)"),
        C("confidence", "String", "high, medium or low"),
        C("decimals", "Int8", "location: decimal places sent (-1 when not a coordinate)"),
        C("metres", "Float64", "location: what those decimals resolve north-south, m"),
        C(
            "coord_system",
            "String",
            "location: WGS-84, GCJ-02, BD-09 or unknown, as stated or by the map API (''"
            " for other types); parsers.detect.coordsys.to_wgs84 converts for distances",
        ),
        C("value_hash", "String", "HMAC-SHA256 of the value, masking key (not stored), 16 hex digits"),
        C("excerpt", "String", "the value masked (as sent when raw evidence is on)"),
        C("detail", "String", "JSON: coordinate system, accuracy, hash form, media format and size..."),
        C("phase", "String", "test phase the message was sent in"),
        C("plaintext", "String", PLAINTEXT_DOC),
    ),
    order_by="capture_id, ingest_id, device_mac, data_type, ts_ns",
)

FLOW_ROLLUP = Table(
    "flow_rollup",
    "Flows summed per device, destination, remote address, enrichment and phase (Store.rollup_flows):"
    " what the device and destination views read instead of every flow. Readers sum again, so one"
    " run may write several partial rollups (a live capture writes one per flush).",
    (
        KEY("capture_id", "String", "capture"),
        KEY("ingest_id", "UInt64", "ingestion run (ns stamp); the newest committed run is current"),
        KEY("device_mac", "String", "the local device (flows.device_mac)"),
        KEY("direction", "String", "flows.direction"),
        KEY(
            "destination",
            "String",
            "server name, else the remote address",
            "if(domain != '', domain, remote_ip)",
        ),
        KEY("remote_ip", "String", "flows.remote_ip"),
        KEY("app", "String", "flows.app"),
        KEY("registrable", "String", "flows.registrable"),
        KEY("organisation", "String", "flows.organisation"),
        KEY("service", "String", "flows.service"),
        KEY("service_kind", "String", "flows.service_kind"),
        KEY("party", "String", "flows.party"),
        KEY("country", "String", "flows.country"),
        KEY("registry_country", "String", "flows.registry_country"),
        KEY("cross_border", "UInt8", "flows.cross_border"),
        KEY("as_org", "String", "flows.as_org"),
        KEY("security", "String", "flows.security"),
        KEY("readable", "UInt8", "flows.readable"),
        KEY("phase", "String", "flows.phase"),
        KEY("decrypted", "String", "flows.decrypted"),
        AGG("flows", "UInt64", "flow records", "count()"),
        AGG(
            "bytes_sent",
            "UInt64",
            "IP bytes the device sent",
            "sum(if(direction = 'inbound', bytes_down, bytes_up))",
        ),
        AGG(
            "bytes_received",
            "UInt64",
            "IP bytes the device received",
            "sum(if(direction = 'inbound', bytes_up, bytes_down))",
        ),
        AGG("first_ns", "UInt64", "first packet of the first flow, ns", "min(first_ns)"),
        AGG("last_ns", "UInt64", "last packet of the last flow, ns", "max(last_ns)"),
    ),
    order_by="capture_id, ingest_id, device_mac, destination, remote_ip",
)

BURSTS = Table(
    "bursts",
    "Payload bursts of every flow (packets less than 1 s apart), oriented to the device: the "
    "beats and uploads that show what encrypted traffic carries, and how often.",
    (
        C("capture_id", "String", "capture"),
        C("ingest_id", "UInt64", "ingestion run (ns stamp); the newest committed run is current"),
        C("flow_id", "UInt64", "the flow (flows.flow_id)"),
        C("device_mac", "String", "the local device of that flow"),
        C("start_ns", "UInt64", "first payload packet of the burst, ns"),
        C("end_ns", "UInt64", "last payload packet of the burst, ns"),
        C("bytes_out", "UInt64", "transport payload bytes the device sent"),
        C("bytes_in", "UInt64", "transport payload bytes the device received"),
        C("pkts_out", "UInt32", "payload packets the device sent"),
        C("pkts_in", "UInt32", "payload packets the device received"),
        C("phase", "String", "test phase the burst began in"),
        C(
            "sq_out",
            "UInt64",
            "sum of the squared payload sizes the device sent, bytes\u00b2: with pkts_out "
            "and bytes_out, the spread of its packet sizes (0 in stores older than schema 11)",
        ),
        C("large_out", "UInt32", "payload packets of 1,200 bytes or more the device sent (full segments)"),
    ),
    order_by="capture_id, ingest_id, device_mac, start_ns",
)

FINDINGS = Table(
    "findings",
    "What the policy packs found, per capture and device: the rule, the verdict, the figures and the "
    "evidence; one assessment (assess_id) replaces the previous one of its capture.",
    (
        C("capture_id", "String", "capture"),
        C("ingest_id", "UInt64", "the ingestion run the facts came from"),
        C("assess_id", "UInt64", "assessment run (ns stamp); the newest of a capture is current"),
        C("finding_id", "String", "stable id: hash of rule, device, subject and first time"),
        C("device_mac", "String", "the device"),
        C("rule_id", "String", "rule id (CN25-03...)"),
        C(
            "fact",
            "String",
            "the problem it is about, whichever pack rules on it: check:subject (issue 18); "
            "'' in findings assessed before schema 20",
        ),
        C("pack", "String", "pack id"),
        C("pack_version", "String", "pack version"),
        C("rules_sha256", "String", "hash of every pack file that ran"),
        C("declaration_sha256", "String", "sha256 of the product declaration used, '' if none"),
        C("severity", "String", "info, low, medium, high or fail"),
        C("requirements", "Array(String)", "TR-xx ids the rule implements"),
        C("statement", "String", "one sentence with the measured figures"),
        C("statement_zh", "String", "the same in Chinese"),
        C("figures", "String", "JSON: the measured figures"),
        C("flow_ids", "Array(UInt64)", "flows behind the finding"),
        C("first_ns", "UInt64", "first evidence, ns"),
        C("last_ns", "UInt64", "last evidence, ns"),
        C("excerpts", "Array(String)", "masked excerpts of the values"),
        C("observations", "UInt32", "observations behind the finding"),
    ),
    order_by="capture_id, assess_id, device_mac, rule_id",
)

PHASES = Table(
    "phases",
    "Test phases of a capture, from its phases file (or live marks): each lasts until the next.",
    (
        C("capture_id", "String", "capture"),
        C("ingest_id", "UInt64", "ingestion run (ns stamp); the newest committed run is current"),
        C("phase", "String", "boot, setup, consent, idle, feature_on, feature_off, background, mute..."),
        C("start_ns", "UInt64", "mark time, ns"),
        C("end_ns", "UInt64", "next mark, or the end of the capture, ns"),
        C("note", "String", "the engineer's note"),
        C("device_mac", "String", "the device a mark was for ('' for every device)"),
    ),
    order_by="capture_id, ingest_id, start_ns",
)

EVIDENCE_EXPORTS = Table(
    "evidence_exports",
    "Packet files written as the evidence of a finding (tapaudit evidence): where, their sha256, what"
    " they hold.",
    (
        C("capture_id", "String", "capture the packets were read from"),
        C("ingest_id", "UInt64", "ingestion run whose flow records chose the packets"),
        C("finding_id", "String", "the finding (findings.finding_id)"),
        C("path", "String", "the file written (absolute path)"),
        C("sha256", "String", "sha256 of the file written"),
        C("format", "String", "pcap, or pcapng when the capture mixes link types"),
        C("packets", "UInt64", "frames written (every fragment of a fragmented datagram counts)"),
        C("bytes", "UInt64", "captured bytes of the frames written"),
        C("flow_ids", "Array(UInt64)", "the flows whose packets were written"),
        C("created_ns", "UInt64", "when the file was written, ns since the epoch"),
    ),
    order_by="capture_id, finding_id, created_ns",
)

CONFIRMATIONS = Table(
    "confirmations",
    "Wireshark's second opinion on a finding (issue 22): its evidence packets dissected by tshark and"
    " what the finding states checked against them. Every value is masked at write (as excerpts are);"
    " a personal value is compared by its keyed hash, never stored.",
    (
        C("capture_id", "String", "capture of the finding"),
        C("ingest_id", "UInt64", "the ingestion run the finding's facts came from (findings.ingest_id)"),
        C("assess_id", "UInt64", "the assessment whose finding was checked (findings.assess_id)"),
        C("finding_id", "String", "the finding (findings.finding_id)"),
        C("confirm_id", "UInt64", "check run (ns stamp); the newest of a finding is current"),
        C("outcome", "String", "confirmed, not confirmed or not checkable"),
        C("reason", "String", "what differs (not confirmed) or why it cannot be checked; '' if confirmed"),
        C("checks", "String", "JSON list, one per claim: claim, field, expected, seen (masked), ok, frame"),
        C(
            "packets",
            "String",
            "JSON list of the evidence packets as tshark lists them (frame, time, "
            "source, destination, protocol, length, info), masked",
        ),
        C(
            "tree",
            "String",
            "JSON list per packet of the dissection fields that matter (name, shown value, children), masked",
        ),
        C("tshark_version", "String", "the tshark that dissected them"),
        C("keyed", "UInt8", "1 when TLS key lines were handed to tshark with the packets"),
        C("checked_ns", "UInt64", "when, ns since the epoch"),
    ),
    order_by="capture_id, finding_id, confirm_id",
)

CAPTURE_KEYS = Table(
    "capture_keys",
    "The TLS key files a capture was replayed with (issue 16): never the secrets, only what names"
    " and checks a file (path, sha256), so evidence can re-read it and refuse one that changed.",
    (
        C("capture_id", "String", "capture"),
        C("ingest_id", "UInt64", "ingestion run (ns stamp); the newest committed run is current"),
        C("path", "String", "the key log file (absolute path), or the capture file holding the DSB"),
        C("sha256", "String", "sha256 of the key log file, or of the DSB's secrets"),
        C("kind", "String", "tls-keylog (an NSS key log file), tls-dsb (a pcapng Decryption Secrets Block)"),
        C("lines", "UInt64", "secret lines taken"),
        C("bad_lines", "UInt64", "lines that were not a secret line (counted and skipped)"),
    ),
    order_by="capture_id, ingest_id, path",
)

CAPTURE_KEY_LINES = Table(
    "capture_key_lines",
    "The key log lines themselves, written only with --raw-evidence (secret: the lab asked to keep"
    " them), so evidence can hand over a finding's keys after the key file is gone.",
    (
        C("capture_id", "String", "capture"),
        C("ingest_id", "UInt64", "ingestion run (ns stamp); the newest committed run is current"),
        C("client_random", "String", "ClientHello random, hex"),
        C("line", "String", "one NSS key log line (label, client random, secret)"),
    ),
    order_by="capture_id, ingest_id, client_random",
)

TLS_TESTS = Table(
    "tls_tests",
    "Certificate-validation tests of `tapaudit intercept` (issue 19, as IoTLS and certmitm run them):"
    " one row per connection the interceptor answered with a test, what the device did with it.",
    (
        C("capture_id", "String", "the live capture the interceptor ran with"),
        C("ingest_id", "UInt64", "ingestion run (ns stamp); the newest committed run is current"),
        C("device_mac", "String", "the device (bench MAC) that opened the connection"),
        C("server_name", "String", "the SNI the device asked for (the server's address when it sent none)"),
        C("test", "String", "self-signed, wrong-host, untrusted-ca, expired, leaf-as-ca or legacy-tls"),
        C("outcome", "String", "accepted (application data flowed) or refused (alert, reset or no data)"),
        C("reason", "String", "why refused: the handshake's error, or 'no data' after it"),
        C("tls_version", "String", "the version negotiated with the device, '' if the handshake failed"),
        C("ts_ns", "UInt64", "when the device's connection began, ns since the epoch"),
        C("client_ip", "String", "the device's address on the LAN"),
        C("client_port", "UInt16", "the device's TCP port"),
        C("server_ip", "String", "the address the device connected to"),
        C("server_port", "UInt16", "its port (443, 8883...)"),
        C("flow_id", "UInt64", "the tap's flow of this connection (flows.flow_id), 0 if not found"),
    ),
    order_by="capture_id, ingest_id, device_mac, server_name, ts_ns",
)

META = Table(
    "meta",
    "Schema version and other store-wide facts.",
    (C("key", "String", "name"), C("value", "String", "value")),
    order_by="key",
    engine="ReplacingMergeTree()",
)

_BATCHED = (CAPTURES, DEVICES, DEVICE_ADDRESSES, FLOWS, FLOW_ROLLUP, DNS, TLS, HTTP, APP_EVENTS, OBSERVATIONS,
            BURSTS, FINDINGS, PHASES, EVIDENCE_EXPORTS, CONFIRMATIONS, CAPTURE_KEYS, CAPTURE_KEY_LINES,
            TLS_TESTS)  # fmt: skip
(CAPTURES, DEVICES, DEVICE_ADDRESSES, FLOWS, FLOW_ROLLUP, DNS, TLS, HTTP, APP_EVENTS, OBSERVATIONS, BURSTS,
 FINDINGS, PHASES, EVIDENCE_EXPORTS, CONFIRMATIONS, CAPTURE_KEYS, CAPTURE_KEY_LINES, TLS_TESTS) = (
    batched(t) for t in _BATCHED)  # fmt: skip

TABLES: tuple[Table, ...] = (
    META,
    CAPTURES,
    DEVICES,
    DEVICE_ADDRESSES,
    FLOWS,
    FLOW_ROLLUP,
    DNS,
    TLS,
    HTTP,
    APP_EVENTS,
    OBSERVATIONS,
    BURSTS,
    FINDINGS,
    PHASES,
    EVIDENCE_EXPORTS,
    CONFIRMATIONS,
    CAPTURE_KEYS,
    CAPTURE_KEY_LINES,
    TLS_TESTS,
)
BY_NAME = {t.name: t for t in TABLES}


def ddl_statements(database: str) -> list[str]:
    return [f"CREATE DATABASE IF NOT EXISTS `{database}`"] + [t.ddl(database) for t in TABLES]
