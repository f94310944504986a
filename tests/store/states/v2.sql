-- A store of schema version 2, as tapaudit at commit d856ede created it: its DDL
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
    `segment` UInt16
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(start)
ORDER BY (capture_id, ingest_id, flow_id);
INSERT INTO {db}.meta (key, value) SELECT 'schema_version', '2' UNION ALL SELECT 'hash_key', 'abababababababababababababababababababababababababababababababab';
INSERT INTO {db}.captures (capture_id, ingest_id, path, files, file_sha256, format, compressed, packets, bytes, first_ns, last_ns, link_types, truncated, read_error, skipped_packets, decode_stats, flows, devices, idle_timeout_s, active_timeout_s, lan_prefixes, bench_sha256, tool_version, ingested_at, status)
SELECT 'c0ffee', 1700000000000000001, '/captures/lab.pcapng', ['files0'], ['file_sha2560'], 'pcapng', 1, 1, 1, 1700000000000000000, 1700000000500000000, ['link_types0'], 1, 'captures.read_error.0', 1, '{}', 1, 1, 0.5, 0.5, ['lan_prefixes0'], 'captures.bench_sha256.0', 'captures.tool_version.0', '2023-11-14 22:13:20', 'complete'
UNION ALL SELECT 'c0ffee', 1700000000000000001, '/captures/lab.pcapng', ['files1'], ['file_sha2561'], 'pcapng', 2, 2, 2, 1700000001000000000, 1700000001500000000, ['link_types1'], 2, 'captures.read_error.1', 2, '{}', 2, 2, 1.5, 1.5, ['lan_prefixes1'], 'captures.bench_sha256.1', 'captures.tool_version.1', '2023-11-14 22:13:20', 'complete';
INSERT INTO {db}.devices (capture_id, ingest_id, mac, oui_vendor, name, category, vendor, model, firmware, on_bench, role, dhcp_hostname, dhcp_vendor_class, dhcp_prl, dhcp_fingerprint, dhcp_client_id, mdns_names, ssdp_names, ipv4, ipv6, first_ns, last_ns)
SELECT 'c0ffee', 1700000000000000001, '02:00:00:00:00:01', 'devices.oui_vendor.0', 'devices.name.0', 'devices.category.0', 'devices.vendor.0', 'devices.model.0', 'devices.firmware.0', 1, 'device', 'devices.dhcp_hostname.0', 'devices.dhcp_vendor_class.0', 'devices.dhcp_prl.0', 'devices.dhcp_fingerprint.0', 'devices.dhcp_client_id.0', ['mdns_names0'], ['ssdp_names0'], ['ipv40'], ['ipv60'], 1700000000000000000, 1700000000500000000
UNION ALL SELECT 'c0ffee', 1700000000000000001, '02:00:00:00:00:02', 'devices.oui_vendor.1', 'devices.name.1', 'devices.category.1', 'devices.vendor.1', 'devices.model.1', 'devices.firmware.1', 2, 'device', 'devices.dhcp_hostname.1', 'devices.dhcp_vendor_class.1', 'devices.dhcp_prl.1', 'devices.dhcp_fingerprint.1', 'devices.dhcp_client_id.1', ['mdns_names1'], ['ssdp_names1'], ['ipv41'], ['ipv61'], 1700000001000000000, 1700000001500000000;
INSERT INTO {db}.device_addresses (capture_id, ingest_id, mac, address, family, source, first_ns, last_ns, observations)
SELECT 'c0ffee', 1700000000000000001, '02:00:00:00:00:01', 'device_addresses.address.0', 1, 'device_addresses.source.0', 1700000000000000000, 1700000000500000000, 1
UNION ALL SELECT 'c0ffee', 1700000000000000001, '02:00:00:00:00:02', 'device_addresses.address.1', 2, 'device_addresses.source.1', 1700000001000000000, 1700000001500000000, 2;
INSERT INTO {db}.flows (capture_id, ingest_id, flow_id, first_ns, last_ns, ip_version, proto, src_ip, src_port, dst_ip, dst_port, src_mac, dst_mac, vlan, device_mac, direction, remote_ip, remote_port, pkts_up, pkts_down, bytes_up, bytes_down, payload_up, payload_down, tcp_flags_up, tcp_flags_down, tcp_state, handshake, end_reason, segment)
SELECT 'c0ffee', 1700000000000000001, 1000, 1700000000000000000, 1700000000500000000, 1, 1, '192.168.1.2', 1, '203.0.113.10', 1, 'flows.src_mac.0', 'flows.dst_mac.0', 1, '02:00:00:00:00:01', 'outbound', '203.0.113.10', 1, 1, 1, 100, 1000, 1, 1, 1, 1, 'flows.tcp_state.0', 1, 'flows.end_reason.0', 1
UNION ALL SELECT 'c0ffee', 1700000000000000001, 1001, 1700000001000000000, 1700000001500000000, 2, 2, '192.168.1.2', 2, '203.0.113.11', 2, 'flows.src_mac.1', 'flows.dst_mac.1', 2, '02:00:00:00:00:02', 'outbound', '203.0.113.11', 2, 2, 2, 200, 2000, 2, 2, 2, 2, 'flows.tcp_state.1', 2, 'flows.end_reason.1', 2
UNION ALL SELECT 'c0ffee', 1700000000000000001, 1002, 1700000002000000000, 1700000002500000000, 3, 3, '192.168.1.2', 3, '203.0.113.12', 3, 'flows.src_mac.2', 'flows.dst_mac.2', 3, '02:00:00:00:00:01', 'inbound', '203.0.113.12', 3, 3, 3, 300, 3000, 3, 3, 3, 3, 'flows.tcp_state.2', 3, 'flows.end_reason.2', 3;
