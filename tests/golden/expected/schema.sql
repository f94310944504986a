CREATE DATABASE IF NOT EXISTS `tapaudit`;

CREATE TABLE IF NOT EXISTS `tapaudit`.`meta` (
    `key` String,
    `value` String
)
ENGINE = ReplacingMergeTree()
ORDER BY (key);

CREATE TABLE IF NOT EXISTS `tapaudit`.`captures` (
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
    `status` String,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id);

CREATE TABLE IF NOT EXISTS `tapaudit`.`devices` (
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
    `attributed_by` String,
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
    `last_ns` UInt64,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, mac);

CREATE TABLE IF NOT EXISTS `tapaudit`.`device_addresses` (
    `capture_id` String,
    `ingest_id` UInt64,
    `mac` String,
    `address` String,
    `family` UInt8,
    `source` String,
    `first_ns` UInt64,
    `last_ns` UInt64,
    `observations` UInt64,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, mac, address, source);

CREATE TABLE IF NOT EXISTS `tapaudit`.`flows` (
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
    `registry_country` String,
    `cross_border` UInt8,
    `as_org` String,
    `security` String,
    `readable` UInt8,
    `phase` String,
    `decrypted` String,
    `zeek_uid` String,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(start)
ORDER BY (capture_id, ingest_id, device_mac, flow_id);

CREATE TABLE IF NOT EXISTS `tapaudit`.`flow_rollup` (
    `capture_id` String,
    `ingest_id` UInt64,
    `device_mac` String,
    `direction` String,
    `destination` String,
    `remote_ip` String,
    `app` String,
    `registrable` String,
    `organisation` String,
    `service` String,
    `service_kind` String,
    `party` String,
    `country` String,
    `registry_country` String,
    `cross_border` UInt8,
    `as_org` String,
    `security` String,
    `readable` UInt8,
    `phase` String,
    `decrypted` String,
    `flows` UInt64,
    `bytes_sent` UInt64,
    `bytes_received` UInt64,
    `first_ns` UInt64,
    `last_ns` UInt64,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, device_mac, destination, remote_ip);

CREATE TABLE IF NOT EXISTS `tapaudit`.`dns` (
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
    `qnames` Array(String),
    `qtypes` Array(String),
    `query_seen` UInt8,
    `answered` UInt8,
    `rtt_ns` UInt64,
    `answer_names` Array(String),
    `answer_types` Array(String),
    `answer_data` Array(String),
    `answer_ttls` Array(UInt32),
    `authority_names` Array(String),
    `authority_types` Array(String),
    `authority_data` Array(String),
    `additional_names` Array(String),
    `additional_types` Array(String),
    `additional_data` Array(String),
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, device_mac, ts_ns);

CREATE TABLE IF NOT EXISTS `tapaudit`.`tls` (
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
    `alerts` Array(String),
    `client_random` String,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, device_mac, ts_ns);

CREATE TABLE IF NOT EXISTS `tapaudit`.`http` (
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
    `truncated` UInt8,
    `plaintext` String,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, device_mac, ts_ns);

CREATE TABLE IF NOT EXISTS `tapaudit`.`app_events` (
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
    `payload_bytes` UInt64,
    `plaintext` String,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, device_mac, ts_ns);

CREATE TABLE IF NOT EXISTS `tapaudit`.`observations` (
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
    `coord_system` String,
    `value_hash` String,
    `excerpt` String,
    `detail` String,
    `phase` String,
    `plaintext` String,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, device_mac, data_type, ts_ns);

CREATE TABLE IF NOT EXISTS `tapaudit`.`bursts` (
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
    `phase` String,
    `sq_out` UInt64,
    `large_out` UInt32,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, device_mac, start_ns);

CREATE TABLE IF NOT EXISTS `tapaudit`.`findings` (
    `capture_id` String,
    `ingest_id` UInt64,
    `assess_id` UInt64,
    `finding_id` String,
    `device_mac` String,
    `rule_id` String,
    `fact` String,
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
    `observations` UInt32,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, assess_id, device_mac, rule_id);

CREATE TABLE IF NOT EXISTS `tapaudit`.`phases` (
    `capture_id` String,
    `ingest_id` UInt64,
    `phase` String,
    `start_ns` UInt64,
    `end_ns` UInt64,
    `note` String,
    `device_mac` String,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, start_ns);

CREATE TABLE IF NOT EXISTS `tapaudit`.`evidence_exports` (
    `capture_id` String,
    `ingest_id` UInt64,
    `finding_id` String,
    `path` String,
    `sha256` String,
    `format` String,
    `packets` UInt64,
    `bytes` UInt64,
    `flow_ids` Array(UInt64),
    `created_ns` UInt64,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, finding_id, created_ns);

CREATE TABLE IF NOT EXISTS `tapaudit`.`confirmations` (
    `capture_id` String,
    `ingest_id` UInt64,
    `assess_id` UInt64,
    `finding_id` String,
    `confirm_id` UInt64,
    `outcome` String,
    `reason` String,
    `checks` String,
    `packets` String,
    `tree` String,
    `tshark_version` String,
    `keyed` UInt8,
    `checked_ns` UInt64,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, finding_id, confirm_id);

CREATE TABLE IF NOT EXISTS `tapaudit`.`capture_keys` (
    `capture_id` String,
    `ingest_id` UInt64,
    `path` String,
    `sha256` String,
    `kind` String,
    `lines` UInt64,
    `bad_lines` UInt64,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, path);

CREATE TABLE IF NOT EXISTS `tapaudit`.`capture_key_lines` (
    `capture_id` String,
    `ingest_id` UInt64,
    `client_random` String,
    `line` String,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, client_random);

CREATE TABLE IF NOT EXISTS `tapaudit`.`tls_tests` (
    `capture_id` String,
    `ingest_id` UInt64,
    `device_mac` String,
    `server_name` String,
    `test` String,
    `outcome` String,
    `reason` String,
    `tls_version` String,
    `ts_ns` UInt64,
    `client_ip` String,
    `client_port` UInt16,
    `server_ip` String,
    `server_port` UInt16,
    `flow_id` UInt64,
    `batch` UInt32 DEFAULT 0
)
ENGINE = MergeTree()
ORDER BY (capture_id, ingest_id, device_mac, server_name, ts_ns);

