-- A store of schema version 8, as tapaudit at commit 0463fe3 created it: its DDL
-- (appliance/schema.py of that commit, `{db}` for the database) and a few rows per table.
-- Loaded by tests/store/test_migrations.py, statements end with ';' at the end of a line.
CREATE TABLE IF NOT EXISTS {db}.`meta` (
    `key` String,
    `value` String
)
ENGINE = ReplacingMergeTree()
ORDER BY (key);
CREATE TABLE IF NOT EXISTS {db}.`captures` (
    `capture_id` String,
    `ingest_id` UInt64,
    `path` String,
    `files` Array(String),
    `file_sha256` Array(String),
    `format` String,
    `compressed` UInt8,
    `packets` UInt64,
    `bytes` UInt64,
    `first_ns` UInt64,
    `last_ns` UInt64,
    `link_types` Array(String),
    `truncated` UInt8,
    `read_error` String,
    `skipped_packets` UInt64,
    `decode_stats` String,
    `flows` UInt64,
    `devices` UInt64,
    `idle_timeout_s` Float64,
    `active_timeout_s` Float64,
    `lan_prefixes` Array(String),
    `bench_sha256` String,
    `home` Array(String),
    `geoip_db` String,
    `geoip_version` String,
    `catalog_version` String,
    `psl_version` String,
    `raw_evidence` UInt8,
    `phases_sha256` String,
    `tool_version` String,
    `ingested_at` DateTime,
    `status` String
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id);
CREATE TABLE IF NOT EXISTS {db}.`devices` (
    `capture_id` String,
    `ingest_id` UInt64,
    `mac` String,
    `oui_vendor` String,
    `name` String,
    `category` String,
    `vendor` String,
    `model` String,
    `firmware` String,
    `on_bench` UInt8,
    `role` String,
    `dhcp_hostname` String,
    `dhcp_vendor_class` String,
    `dhcp_prl` String,
    `dhcp_fingerprint` String,
    `dhcp_client_id` String,
    `mdns_names` Array(String),
    `ssdp_names` Array(String),
    `ipv4` Array(String),
    `ipv6` Array(String),
    `first_ns` UInt64,
    `last_ns` UInt64
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, mac);
CREATE TABLE IF NOT EXISTS {db}.`device_addresses` (
    `capture_id` String,
    `ingest_id` UInt64,
    `mac` String,
    `address` String,
    `family` UInt8,
    `source` String,
    `first_ns` UInt64,
    `last_ns` UInt64,
    `observations` UInt64
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, mac, address, source);
CREATE TABLE IF NOT EXISTS {db}.`flows` (
    `capture_id` String,
    `ingest_id` UInt64,
    `flow_id` UInt64,
    `start` DateTime DEFAULT toDateTime(intDiv(first_ns, 1000000000)),
    `first_ns` UInt64,
    `last_ns` UInt64,
    `ip_version` UInt8,
    `proto` UInt8,
    `src_ip` String,
    `src_port` UInt16,
    `dst_ip` String,
    `dst_port` UInt16,
    `src_mac` String,
    `dst_mac` String,
    `vlan` UInt16,
    `device_mac` String,
    `direction` String,
    `remote_ip` String,
    `remote_port` UInt16,
    `pkts_up` UInt64,
    `pkts_down` UInt64,
    `bytes_up` UInt64,
    `bytes_down` UInt64,
    `payload_up` UInt64,
    `payload_down` UInt64,
    `tcp_flags_up` UInt8,
    `tcp_flags_down` UInt8,
    `tcp_state` String,
    `handshake` UInt8,
    `end_reason` String,
    `segment` UInt16,
    `app` String,
    `domain` String,
    `domain_source` String,
    `registrable` String,
    `organisation` String,
    `service` String,
    `service_kind` String,
    `party` String,
    `country` String,
    `cross_border` UInt8,
    `as_org` String,
    `security` String,
    `readable` UInt8,
    `phase` String
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(start)
ORDER BY (capture_id, ingest_id, flow_id);
CREATE TABLE IF NOT EXISTS {db}.`dns` (
    `capture_id` String,
    `ingest_id` UInt64,
    `flow_id` UInt64,
    `ts_ns` UInt64,
    `device_mac` String,
    `protocol` String,
    `transport` String,
    `txid` UInt16,
    `opcode` UInt8,
    `rcode` UInt8,
    `qname` String,
    `qtype` String,
    `query_seen` UInt8,
    `answered` UInt8,
    `rtt_ns` UInt64,
    `answer_names` Array(String),
    `answer_types` Array(String),
    `answer_data` Array(String),
    `answer_ttls` Array(UInt32)
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, device_mac, ts_ns);
CREATE TABLE IF NOT EXISTS {db}.`tls` (
    `capture_id` String,
    `ingest_id` UInt64,
    `flow_id` UInt64,
    `ts_ns` UInt64,
    `device_mac` String,
    `transport` String,
    `sni` String,
    `alpn` Array(String),
    `client_version` String,
    `client_versions` Array(String),
    `ciphers` Array(UInt16),
    `extensions` Array(UInt16),
    `ja3` String,
    `ja4` String,
    `server_version` String,
    `cipher` UInt16,
    `ja3s` String,
    `cert_count` UInt8,
    `cert_subject` String,
    `cert_issuer` String,
    `cert_sans` Array(String),
    `cert_not_before` String,
    `cert_not_after` String,
    `cert_sha256` String,
    `alerts` Array(String)
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, device_mac, ts_ns);
CREATE TABLE IF NOT EXISTS {db}.`http` (
    `capture_id` String,
    `ingest_id` UInt64,
    `flow_id` UInt64,
    `ts_ns` UInt64,
    `device_mac` String,
    `is_response` UInt8,
    `idx` UInt32,
    `method` String,
    `host` String,
    `path` String,
    `query` String,
    `user_agent` String,
    `content_type` String,
    `content_length` UInt64,
    `body_bytes` UInt64,
    `status` UInt16,
    `truncated` UInt8
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, device_mac, ts_ns);
CREATE TABLE IF NOT EXISTS {db}.`app_events` (
    `capture_id` String,
    `ingest_id` UInt64,
    `flow_id` UInt64,
    `ts_ns` UInt64,
    `device_mac` String,
    `protocol` String,
    `kind` String,
    `up` UInt8,
    `name` String,
    `detail` String,
    `payload_bytes` UInt64
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, device_mac, ts_ns);
CREATE TABLE IF NOT EXISTS {db}.`observations` (
    `capture_id` String,
    `ingest_id` UInt64,
    `flow_id` UInt64,
    `ts_ns` UInt64,
    `device_mac` String,
    `remote_ip` String,
    `protocol` String,
    `carrier` String,
    `data_type` String,
    `path` String,
    `confidence` String,
    `decimals` Int8,
    `metres` Float64,
    `value_hash` String,
    `excerpt` String,
    `detail` String,
    `phase` String
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, device_mac, data_type, ts_ns);
CREATE TABLE IF NOT EXISTS {db}.`bursts` (
    `capture_id` String,
    `ingest_id` UInt64,
    `flow_id` UInt64,
    `device_mac` String,
    `start_ns` UInt64,
    `end_ns` UInt64,
    `bytes_out` UInt64,
    `bytes_in` UInt64,
    `pkts_out` UInt32,
    `pkts_in` UInt32,
    `phase` String
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, device_mac, start_ns);
CREATE TABLE IF NOT EXISTS {db}.`findings` (
    `capture_id` String,
    `ingest_id` UInt64,
    `assess_id` UInt64,
    `finding_id` String,
    `device_mac` String,
    `rule_id` String,
    `pack` String,
    `pack_version` String,
    `rules_sha256` String,
    `declaration_sha256` String,
    `severity` String,
    `requirements` Array(String),
    `statement` String,
    `statement_zh` String,
    `figures` String,
    `flow_ids` Array(UInt64),
    `first_ns` UInt64,
    `last_ns` UInt64,
    `excerpts` Array(String),
    `observations` UInt32
)
ENGINE = MergeTree()
ORDER BY (capture_id, assess_id, device_mac, rule_id);
CREATE TABLE IF NOT EXISTS {db}.`phases` (
    `capture_id` String,
    `ingest_id` UInt64,
    `phase` String,
    `start_ns` UInt64,
    `end_ns` UInt64,
    `note` String
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, start_ns);
CREATE TABLE IF NOT EXISTS {db}.`evidence_exports` (
    `capture_id` String,
    `ingest_id` UInt64,
    `finding_id` String,
    `path` String,
    `sha256` String,
    `format` String,
    `packets` UInt64,
    `bytes` UInt64,
    `flow_ids` Array(UInt64),
    `created_ns` UInt64
)
ENGINE = MergeTree()
ORDER BY (capture_id, finding_id, created_ns);
INSERT INTO {db}.meta (key, value) SELECT 'schema_version', '8' UNION ALL SELECT 'hash_key', 'abababababababababababababababababababababababababababababababab';
INSERT INTO {db}.captures (capture_id, ingest_id, path, files, file_sha256, format, compressed, packets, bytes, first_ns, last_ns, link_types, truncated, read_error, skipped_packets, decode_stats, flows, devices, idle_timeout_s, active_timeout_s, lan_prefixes, bench_sha256, home, geoip_db, geoip_version, catalog_version, psl_version, raw_evidence, phases_sha256, tool_version, ingested_at, status)
SELECT 'c0ffee', 1700000000000000001, '/captures/lab.pcapng', ['files0'], ['file_sha2560'], 'pcapng', 1, 1, 1, 1700000000000000000, 1700000000500000000, ['link_types0'], 1, 'captures.read_error.0', 1, '{}', 1, 1, 0.5, 0.5, ['lan_prefixes0'], 'captures.bench_sha256.0', ['home0'], 'captures.geoip_db.0', 'captures.geoip_version.0', 'captures.catalog_version.0', 'captures.psl_version.0', 1, 'captures.phases_sha256.0', 'captures.tool_version.0', '2023-11-14 22:13:20', 'complete'
UNION ALL SELECT 'c0ffee', 1700000000000000001, '/captures/lab.pcapng', ['files1'], ['file_sha2561'], 'pcapng', 2, 2, 2, 1700000001000000000, 1700000001500000000, ['link_types1'], 2, 'captures.read_error.1', 2, '{}', 2, 2, 1.5, 1.5, ['lan_prefixes1'], 'captures.bench_sha256.1', ['home1'], 'captures.geoip_db.1', 'captures.geoip_version.1', 'captures.catalog_version.1', 'captures.psl_version.1', 2, 'captures.phases_sha256.1', 'captures.tool_version.1', '2023-11-14 22:13:20', 'complete';
INSERT INTO {db}.devices (capture_id, ingest_id, mac, oui_vendor, name, category, vendor, model, firmware, on_bench, role, dhcp_hostname, dhcp_vendor_class, dhcp_prl, dhcp_fingerprint, dhcp_client_id, mdns_names, ssdp_names, ipv4, ipv6, first_ns, last_ns)
SELECT 'c0ffee', 1700000000000000001, '02:00:00:00:00:01', 'devices.oui_vendor.0', 'devices.name.0', 'devices.category.0', 'devices.vendor.0', 'devices.model.0', 'devices.firmware.0', 1, 'device', 'devices.dhcp_hostname.0', 'devices.dhcp_vendor_class.0', 'devices.dhcp_prl.0', 'devices.dhcp_fingerprint.0', 'devices.dhcp_client_id.0', ['mdns_names0'], ['ssdp_names0'], ['ipv40'], ['ipv60'], 1700000000000000000, 1700000000500000000
UNION ALL SELECT 'c0ffee', 1700000000000000001, '02:00:00:00:00:02', 'devices.oui_vendor.1', 'devices.name.1', 'devices.category.1', 'devices.vendor.1', 'devices.model.1', 'devices.firmware.1', 2, 'device', 'devices.dhcp_hostname.1', 'devices.dhcp_vendor_class.1', 'devices.dhcp_prl.1', 'devices.dhcp_fingerprint.1', 'devices.dhcp_client_id.1', ['mdns_names1'], ['ssdp_names1'], ['ipv41'], ['ipv61'], 1700000001000000000, 1700000001500000000;
INSERT INTO {db}.device_addresses (capture_id, ingest_id, mac, address, family, source, first_ns, last_ns, observations)
SELECT 'c0ffee', 1700000000000000001, '02:00:00:00:00:01', 'device_addresses.address.0', 1, 'device_addresses.source.0', 1700000000000000000, 1700000000500000000, 1
UNION ALL SELECT 'c0ffee', 1700000000000000001, '02:00:00:00:00:02', 'device_addresses.address.1', 2, 'device_addresses.source.1', 1700000001000000000, 1700000001500000000, 2;
INSERT INTO {db}.flows (capture_id, ingest_id, flow_id, first_ns, last_ns, ip_version, proto, src_ip, src_port, dst_ip, dst_port, src_mac, dst_mac, vlan, device_mac, direction, remote_ip, remote_port, pkts_up, pkts_down, bytes_up, bytes_down, payload_up, payload_down, tcp_flags_up, tcp_flags_down, tcp_state, handshake, end_reason, segment, app, domain, domain_source, registrable, organisation, service, service_kind, party, country, cross_border, as_org, security, readable, phase)
SELECT 'c0ffee', 1700000000000000001, 1000, 1700000000000000000, 1700000000500000000, 1, 1, '192.168.1.2', 1, '203.0.113.10', 1, 'flows.src_mac.0', 'flows.dst_mac.0', 1, '02:00:00:00:00:01', 'outbound', '203.0.113.10', 1, 1, 1, 100, 1000, 1, 1, 1, 1, 'flows.tcp_state.0', 1, 'flows.end_reason.0', 1, 'tls', 'api.example.com', 'flows.domain_source.0', 'flows.registrable.0', 'flows.organisation.0', 'flows.service.0', 'flows.service_kind.0', 'flows.party.0', 'DE', 1, 'flows.as_org.0', 'tls1.3', 0, 'idle'
UNION ALL SELECT 'c0ffee', 1700000000000000001, 1001, 1700000001000000000, 1700000001500000000, 2, 2, '192.168.1.2', 2, '203.0.113.11', 2, 'flows.src_mac.1', 'flows.dst_mac.1', 2, '02:00:00:00:00:02', 'outbound', '203.0.113.11', 2, 2, 2, 200, 2000, 2, 2, 2, 2, 'flows.tcp_state.1', 2, 'flows.end_reason.1', 2, 'tls', '', 'flows.domain_source.1', 'flows.registrable.1', 'flows.organisation.1', 'flows.service.1', 'flows.service_kind.1', 'flows.party.1', 'DE', 2, 'flows.as_org.1', 'tls1.3', 0, 'idle'
UNION ALL SELECT 'c0ffee', 1700000000000000001, 1002, 1700000002000000000, 1700000002500000000, 3, 3, '192.168.1.2', 3, '203.0.113.12', 3, 'flows.src_mac.2', 'flows.dst_mac.2', 3, '02:00:00:00:00:01', 'inbound', '203.0.113.12', 3, 3, 3, 300, 3000, 3, 3, 3, 3, 'flows.tcp_state.2', 3, 'flows.end_reason.2', 3, 'tls', 'api.example.com', 'flows.domain_source.2', 'flows.registrable.2', 'flows.organisation.2', 'flows.service.2', 'flows.service_kind.2', 'flows.party.2', 'DE', 3, 'flows.as_org.2', 'tls1.3', 0, 'idle';
INSERT INTO {db}.dns (capture_id, ingest_id, flow_id, ts_ns, device_mac, protocol, transport, txid, opcode, rcode, qname, qtype, query_seen, answered, rtt_ns, answer_names, answer_types, answer_data, answer_ttls)
SELECT 'c0ffee', 1700000000000000001, 1000, 1700000000000000000, '02:00:00:00:00:01', 'dns.protocol.0', 'dns.transport.0', 1, 1, 1, 'dns.qname.0', 'dns.qtype.0', 1, 1, 1, ['answer_names0'], ['answer_types0'], ['answer_data0'], [1]
UNION ALL SELECT 'c0ffee', 1700000000000000001, 1001, 1700000001000000000, '02:00:00:00:00:02', 'dns.protocol.1', 'dns.transport.1', 2, 2, 2, 'dns.qname.1', 'dns.qtype.1', 2, 2, 2, ['answer_names1'], ['answer_types1'], ['answer_data1'], [2];
INSERT INTO {db}.tls (capture_id, ingest_id, flow_id, ts_ns, device_mac, transport, sni, alpn, client_version, client_versions, ciphers, extensions, ja3, ja4, server_version, cipher, ja3s, cert_count, cert_subject, cert_issuer, cert_sans, cert_not_before, cert_not_after, cert_sha256, alerts)
SELECT 'c0ffee', 1700000000000000001, 1000, 1700000000000000000, '02:00:00:00:00:01', 'tls.transport.0', 'tls.sni.0', ['alpn0'], 'tls.client_version.0', ['client_versions0'], [1], [1], 'tls.ja3.0', 'tls.ja4.0', 'tls.server_version.0', 1, 'tls.ja3s.0', 1, 'tls.cert_subject.0', 'tls.cert_issuer.0', ['cert_sans0'], 'tls.cert_not_before.0', 'tls.cert_not_after.0', 'tls.cert_sha256.0', ['alerts0']
UNION ALL SELECT 'c0ffee', 1700000000000000001, 1001, 1700000001000000000, '02:00:00:00:00:02', 'tls.transport.1', 'tls.sni.1', ['alpn1'], 'tls.client_version.1', ['client_versions1'], [2], [2], 'tls.ja3.1', 'tls.ja4.1', 'tls.server_version.1', 2, 'tls.ja3s.1', 2, 'tls.cert_subject.1', 'tls.cert_issuer.1', ['cert_sans1'], 'tls.cert_not_before.1', 'tls.cert_not_after.1', 'tls.cert_sha256.1', ['alerts1'];
INSERT INTO {db}.http (capture_id, ingest_id, flow_id, ts_ns, device_mac, is_response, idx, method, host, path, query, user_agent, content_type, content_length, body_bytes, status, truncated)
SELECT 'c0ffee', 1700000000000000001, 1000, 1700000000000000000, '02:00:00:00:00:01', 1, 1, 'http.method.0', 'http.host.0', '/captures/lab.pcapng', 'http.query.0', 'http.user_agent.0', 'http.content_type.0', 1, 1, 1, 1
UNION ALL SELECT 'c0ffee', 1700000000000000001, 1001, 1700000001000000000, '02:00:00:00:00:02', 2, 2, 'http.method.1', 'http.host.1', '/captures/lab.pcapng', 'http.query.1', 'http.user_agent.1', 'http.content_type.1', 2, 2, 2, 2;
INSERT INTO {db}.app_events (capture_id, ingest_id, flow_id, ts_ns, device_mac, protocol, kind, up, name, detail, payload_bytes)
SELECT 'c0ffee', 1700000000000000001, 1000, 1700000000000000000, '02:00:00:00:00:01', 'app_events.protocol.0', 'app_events.kind.0', 1, 'app_events.name.0', '{}', 1
UNION ALL SELECT 'c0ffee', 1700000000000000001, 1001, 1700000001000000000, '02:00:00:00:00:02', 'app_events.protocol.1', 'app_events.kind.1', 2, 'app_events.name.1', '{}', 2;
INSERT INTO {db}.observations (capture_id, ingest_id, flow_id, ts_ns, device_mac, remote_ip, protocol, carrier, data_type, path, confidence, decimals, metres, value_hash, excerpt, detail, phase)
SELECT 'c0ffee', 1700000000000000001, 1000, 1700000000000000000, '02:00:00:00:00:01', '203.0.113.10', 'observations.protocol.0', 'observations.carrier.0', 'imei', '/captures/lab.pcapng', 'observations.confidence.0', 1, 0.5, 'observations.value_hash.0', '35**********12', '{}', 'idle'
UNION ALL SELECT 'c0ffee', 1700000000000000001, 1001, 1700000001000000000, '02:00:00:00:00:02', '203.0.113.11', 'observations.protocol.1', 'observations.carrier.1', 'imei', '/captures/lab.pcapng', 'observations.confidence.1', 2, 1.5, 'observations.value_hash.1', '35**********12', '{}', 'idle';
INSERT INTO {db}.bursts (capture_id, ingest_id, flow_id, device_mac, start_ns, end_ns, bytes_out, bytes_in, pkts_out, pkts_in, phase)
SELECT 'c0ffee', 1700000000000000001, 1000, '02:00:00:00:00:01', 1700000000000000000, 1700000000000000100, 1, 1, 1, 1, 'idle'
UNION ALL SELECT 'c0ffee', 1700000000000000001, 1001, '02:00:00:00:00:02', 1700000001000000000, 1700000001000000100, 2, 2, 2, 2, 'idle';
INSERT INTO {db}.findings (capture_id, ingest_id, assess_id, finding_id, device_mac, rule_id, pack, pack_version, rules_sha256, declaration_sha256, severity, requirements, statement, statement_zh, figures, flow_ids, first_ns, last_ns, excerpts, observations)
SELECT 'c0ffee', 1700000000000000001, 1700000000000000002, 'f00d', '02:00:00:00:00:01', 'CN25-03', 'findings.pack.0', 'findings.pack_version.0', 'findings.rules_sha256.0', 'findings.declaration_sha256.0', 'low', ['requirements0'], 'findings.statement.0', 'findings.statement_zh.0', '{}', [1], 1700000000000000000, 1700000000500000000, ['excerpts0'], 1
UNION ALL SELECT 'c0ffee', 1700000000000000001, 1700000000000000002, 'f00d', '02:00:00:00:00:02', 'CN25-03', 'findings.pack.1', 'findings.pack_version.1', 'findings.rules_sha256.1', 'findings.declaration_sha256.1', 'low', ['requirements1'], 'findings.statement.1', 'findings.statement_zh.1', '{}', [2], 1700000001000000000, 1700000001500000000, ['excerpts1'], 2;
INSERT INTO {db}.phases (capture_id, ingest_id, phase, start_ns, end_ns, note)
SELECT 'c0ffee', 1700000000000000001, 'idle', 1700000000000000000, 1700000000000000100, 'phases.note.0'
UNION ALL SELECT 'c0ffee', 1700000000000000001, 'idle', 1700000001000000000, 1700000001000000100, 'phases.note.1';
INSERT INTO {db}.evidence_exports (capture_id, ingest_id, finding_id, path, sha256, format, packets, bytes, flow_ids, created_ns)
SELECT 'c0ffee', 1700000000000000001, 'f00d', '/captures/lab.pcapng', 'evidence_exports.sha256.0', 'pcapng', 1, 1, [1], 1
UNION ALL SELECT 'c0ffee', 1700000000000000001, 'f00d', '/captures/lab.pcapng', 'evidence_exports.sha256.1', 'pcapng', 2, 2, [2], 2;
