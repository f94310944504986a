"""Reads of traffic: captures, devices, flows, destinations and the flow rollup, phases."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from appliance.store.backends import Store
from appliance.store.queries.scope import CURRENT, Rows, capture_rows, scope


def captures(store: Store) -> Rows:
    return store.query(
        "SELECT capture_id, path, files, packets, bytes, first_ns, last_ns, link_types, truncated,"
        " read_error, skipped_packets, flows, devices, tool_version, toString(ingested_at) AS ingested_at,"
        " status, format"
        f" FROM {capture_rows(f'ingest_id IN ({CURRENT})')} ORDER BY first_ns, path"
    )


def log_captures(store: Store, capture_ids: list[str]) -> set[str]:
    """Of these captures, those replayed from Zeek logs (``captures.format`` zeek-...): they hold
    connections and what the logs named, no payload (issue 21)."""
    if not capture_ids:
        return set()
    rows = store.query(
        f"SELECT capture_id FROM {capture_rows(f'ingest_id IN ({CURRENT})')}"
        " WHERE has(%(caps)s, capture_id) AND startsWith(format, 'zeek')",
        {"caps": list(capture_ids)},
    )
    return {str(r["capture_id"]) for r in rows}


def devices(store: Store, capture_ids: list[str] | None = None) -> Rows:
    """Devices merged over the chosen captures, with their flow and byte totals."""
    where, params = scope(capture_ids)
    devs = store.query(
        f"""SELECT mac, argMax(oui_vendor, last_ns) AS oui_vendor, argMax(name, last_ns) AS name,
            argMax(category, last_ns) AS category, argMax(vendor, last_ns) AS vendor,
            argMax(model, last_ns) AS model, argMax(firmware, last_ns) AS firmware,
            max(on_bench) AS on_bench, argMax(role, last_ns) AS role,
            argMax(if(attributed_by = '', 'mac', attributed_by), last_ns) AS attributed_by,
            argMax(dhcp_hostname, last_ns) AS dhcp_hostname,
            argMax(dhcp_vendor_class, last_ns) AS dhcp_vendor_class,
            argMax(dhcp_prl, last_ns) AS dhcp_prl, argMax(dhcp_fingerprint, last_ns) AS dhcp_fingerprint,
            groupUniqArrayArray(mdns_names) AS mdns_names, groupUniqArrayArray(ssdp_names) AS ssdp_names,
            groupUniqArrayArray(ipv4) AS ipv4, groupUniqArrayArray(ipv6) AS ipv6,
            min(first_ns) AS first_seen_ns, max(last_ns) AS last_seen_ns, uniqExact(capture_id) AS captures
        FROM {{db}}.devices WHERE {where} GROUP BY mac""",
        params,
    )
    totals = {
        r["mac"]: r
        for r in store.query(
            f"""SELECT device_mac AS mac, sum(flows) AS nflows, sum(bytes_sent) AS sent,
                sum(bytes_received) AS received, uniqExact(remote_ip) AS remotes
            FROM {{db}}.flow_rollup WHERE {where} GROUP BY device_mac""",
            params,
        )
    }
    for d in devs:
        t = totals.get(d["mac"], {})
        d["flows"] = int(t.get("nflows", 0))
        d["bytes_sent"] = int(t.get("sent", 0))
        d["bytes_received"] = int(t.get("received", 0))
        d["remotes"] = int(t.get("remotes", 0))
        d["ipv4"], d["ipv6"] = sorted(d["ipv4"]), sorted(d["ipv6"])
    devs.sort(key=lambda d: (-int(d["on_bench"]), d["role"] != "device", -d["bytes_sent"], d["mac"]))
    return devs


def top_remotes(store: Store, capture_ids: list[str] | None = None, per_device: int = 3) -> Rows:
    """Each device's busiest off-LAN endpoints by bytes."""
    where, params = scope(capture_ids)
    params = {**params, "n": per_device}
    return store.query(
        f"""SELECT device_mac AS mac, remote_ip, any(proto) AS proto, any(remote_port) AS port,
            count() AS flows, sum(bytes_up + bytes_down) AS bytes
        FROM {{db}}.flows WHERE {where} AND device_mac != '' AND direction IN ('outbound', 'inbound')
        GROUP BY device_mac, remote_ip ORDER BY device_mac, bytes DESC LIMIT %(n)s BY device_mac""",
        params,
    )


@dataclass(frozen=True)
class FlowFilter:
    """What the flow explorer narrows to; every field optional (None: no condition)."""

    device: str | None = None  # the device's own flows, or flows it is either end of (LAN)
    destination: str | None = None  # a substring of the server name, else the remote address
    proto: int | None = None  # IP protocol number (6 TCP, 17 UDP...)
    app: str | None = None  # application protocol dissected (tls, http, dns...); '' for none
    since_ns: int | None = None  # flows that began at or after this time
    until_ns: int | None = None  # ... and before this time

    def sql(self) -> tuple[str, str, dict[str, Any]]:
        """PREWHERE (the time range: read the other columns only for flows in it), WHERE additions."""
        conds: list[str] = []
        pre: list[str] = []
        params: dict[str, Any] = {}
        if self.device:
            conds.append("(device_mac = %(fdev)s OR src_mac = %(fdev)s OR dst_mac = %(fdev)s)")
            params["fdev"] = self.device
        if self.destination:
            conds.append("positionCaseInsensitive(if(domain != '', domain, remote_ip), %(fdest)s) > 0")
            params["fdest"] = self.destination
        if self.proto is not None:
            conds.append("proto = %(fproto)s")
            params["fproto"] = int(self.proto)
        if self.app is not None:
            conds.append("app = %(fapp)s")
            params["fapp"] = self.app
        if self.since_ns is not None:
            pre.append("first_ns >= %(fsince)s")
            params["fsince"] = int(self.since_ns)
        if self.until_ns is not None:
            pre.append("first_ns < %(funtil)s")
            params["funtil"] = int(self.until_ns)
        prewhere = " PREWHERE " + " AND ".join(pre) if pre else ""
        return prewhere, "".join(" AND " + c for c in conds), params


def _flow_filter(device: str | None, flt: FlowFilter | None) -> FlowFilter:
    flt = flt or FlowFilter()
    return replace(flt, device=device) if device else flt


def flow_counts(
    store: Store,
    capture_ids: list[str] | None = None,
    device: str | None = None,
    flt: FlowFilter | None = None,
) -> Rows:
    """Matching flows per capture (``cap``, ``n``), captures in the explorer's order (first packet):
    the explorer's page count, and what ``flows`` walks to find a page's captures."""
    where, params = scope(capture_ids)
    pre, extra, fparams = _flow_filter(device, flt).sql()
    return store.query(
        f"""SELECT f.cap AS cap, f.n AS n, c.t0 AS t0 FROM (
            SELECT capture_id AS cap, count() AS n FROM {{db}}.flows{pre} WHERE {where}{extra} GROUP BY cap
        ) AS f
        ANY LEFT JOIN (SELECT capture_id AS cap, min(first_ns) AS t0 FROM {{db}}.captures
                       WHERE ingest_id IN ({CURRENT}) GROUP BY cap) AS c USING cap
        ORDER BY t0, cap""",
        {**params, **fparams},
    )


FLOW_COLUMNS = """toString(flow_id) AS flow_id, capture_id, first_ns, last_ns, proto, src_ip, src_port,
    dst_ip, dst_port, src_mac, dst_mac, device_mac, direction, remote_ip, remote_port, pkts_up, pkts_down,
    bytes_up, bytes_down, payload_up, payload_down, tcp_flags_up, tcp_flags_down, tcp_state, end_reason,
    segment, vlan, app, if(domain != '', domain, remote_ip) AS destination, organisation, party, country,
    security, phase"""


def flows(
    store: Store,
    capture_ids: list[str] | None = None,
    device: str | None = None,
    limit: int = 100,
    offset: int = 0,
    flt: FlowFilter | None = None,
    counts: Rows | None = None,
) -> Rows:
    """One page of flows: captures in time order, within each by first packet.

    Paged per capture: the page's captures are found from per-capture counts (``flow_counts``,
    given or computed), then only those are sorted, and only the keys of the page before whole
    rows are read, so a deep page of ten million flows costs one capture's sort of two columns.
    """
    flt = _flow_filter(device, flt)
    pre, extra, fparams = flt.sql()
    out: Rows = []
    skip, want = max(offset, 0), max(limit, 0)
    for c in flow_counts(store, capture_ids, None, flt) if counts is None else counts:
        n = int(c["n"])
        if skip >= n:
            skip -= n
            continue
        if want <= 0:
            break
        where, params = scope([str(c["cap"])])
        params = {**params, **fparams, "off": skip, "lim": want}
        ids = store.query(
            f"""SELECT flow_id FROM {{db}}.flows{pre} WHERE {where}{extra}
            ORDER BY first_ns, flow_id LIMIT %(off)s, %(lim)s""",
            params,
        )
        rows = store.query(
            f"""SELECT {FLOW_COLUMNS}
            FROM (SELECT * FROM {{db}}.flows PREWHERE has(%(ids)s, flow_id) WHERE {where})
            ORDER BY first_ns, toUInt64(flow_id)""",
            {**params, "ids": [int(r["flow_id"]) for r in ids]},
        )
        out += rows
        want -= len(rows)
        skip = 0
    return out


def flow_count(
    store: Store,
    capture_ids: list[str] | None = None,
    device: str | None = None,
    flt: FlowFilter | None = None,
) -> int:
    """How many flows ``flows`` pages through (same selection)."""
    return sum(int(c["n"]) for c in flow_counts(store, capture_ids, device, flt))


# Per destination, from the flow rollup (flows summed at ingestion). The inner aggregates take
# aliases unlike any column (ClickHouse would substitute an alias inside its own aggregate); the
# outer select hands them back under the schema's names, so readers need no renaming. Lists built
# from several values (countries, registry_countries, securities, apps, remote_ips) are not columns
# and keep theirs.
_DEST_COLUMNS = """any(registrable) AS reg_domain, anyLast(organisation) AS org, anyLast(service) AS svc,
            anyLast(service_kind) AS skind, anyLast(party) AS party_of,
            arrayStringConcat(arraySort(groupUniqArray(country)), ',') AS countries,
            arrayStringConcat(arraySort(groupUniqArray(registry_country)), ',') AS registry_countries,
            max(cross_border) AS abroad, anyLast(as_org) AS network,
            arrayStringConcat(arraySort(groupUniqArray(if(security = '', 'unknown', security))), ',')
                AS securities,
            max(readable) AS any_readable, arrayStringConcat(arraySort(groupUniqArray(app)), ',') AS apps,
            arraySort(groupUniqArray(remote_ip)) AS remote_ips, sum(flows) AS nflows,
            sum(bytes_sent) AS sent, sum(bytes_received) AS received, min(first_ns) AS first_seen_ns,
            max(last_ns) AS last_seen_ns"""
_DEST_NAMES = """mac AS device_mac, destination, reg_domain AS registrable, org AS organisation,
            svc AS service, skind AS service_kind, party_of AS party, countries, registry_countries,
            abroad AS cross_border,
            network AS as_org, securities, any_readable AS readable, apps, remote_ips, nflows AS flows,
            sent AS bytes_sent, received AS bytes_received, first_seen_ns AS first_ns,
            last_seen_ns AS last_ns"""


def _per_destination(store: Store, where: str, params: dict[str, Any]) -> Rows:
    """The rollup's rows matching ``where``, one per device and destination, biggest first."""
    return store.query(
        f"""SELECT {_DEST_NAMES} FROM (
            SELECT device_mac AS mac, destination, {_DEST_COLUMNS}
            FROM {{db}}.flow_rollup WHERE {where} AND direction IN ('outbound', 'inbound')
            GROUP BY mac, destination
        ) ORDER BY device_mac, bytes_sent + bytes_received DESC, destination""",
        params,
    )


def destinations(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Per device and destination (domain, else remote address): who, what kind, where, how protected."""
    where, params = scope(capture_ids, device)
    return _per_destination(store, where, params)


def unreadable_flows(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Per device and destination: the flows the appliance could not read (encrypted without keys, or
    not dissected), how many and how many bytes each way; what a report cannot judge by content."""
    where, params = scope(capture_ids, device)
    return _per_destination(store, where + " AND readable = 0", params)


# an encrypted flow: one whose handshake named a protection (tls*, quic, dtls, ssh), or that was decrypted
_ENCRYPTED = "(security NOT IN ('', 'none', 'unknown') OR decrypted != '')"


def tls_coverage(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Per device: its encrypted flows off the LAN and their bytes (both ways), of which read with
    session keys (``flows.decrypted``, issue 16), and the key sources that read them. What is
    encrypted and not decrypted is what stays unread."""
    where, params = scope(capture_ids, device)
    return store.query(
        f"""SELECT device_mac AS mac,
            sumIf(flows, {_ENCRYPTED}) AS encrypted_flows,
            sumIf(bytes_sent + bytes_received, {_ENCRYPTED}) AS encrypted_bytes,
            sumIf(flows, decrypted != '') AS decrypted_flows,
            sumIf(bytes_sent + bytes_received, decrypted != '') AS decrypted_bytes,
            arraySort(groupUniqArrayIf(decrypted, decrypted != '')) AS key_sources
        FROM {{db}}.flow_rollup WHERE {where} AND direction IN ('outbound', 'inbound')
        GROUP BY mac ORDER BY mac""",
        params,
    )


def device_overview(store: Store, capture_ids: list[str] | None = None) -> Rows:
    """Per device: the personal-data types it sent, the third parties and countries it reached."""
    where, params = scope(capture_ids)
    reach = store.query(
        f"""SELECT device_mac AS mac,
            arraySort(groupUniqArrayIf(organisation, party = 'third' AND organisation != '')) AS third,
            arraySort(groupUniqArrayIf(country, country != '')) AS reached
        FROM {{db}}.flow_rollup WHERE {where} AND direction IN ('outbound', 'inbound') GROUP BY mac""",
        params,
    )
    kinds = store.query(
        f"""SELECT device_mac AS mac, arraySort(groupUniqArray(data_type)) AS kinds
        FROM {{db}}.observations WHERE {where} GROUP BY mac""",
        params,
    )
    out: dict[str, dict[str, Any]] = {}
    for r in reach:
        out[str(r["mac"])] = {"mac": str(r["mac"]), "data_types": [], "third_parties": list(r["third"]),
                              "countries": list(r["reached"])}  # fmt: skip
    for r in kinds:
        row = out.setdefault(str(r["mac"]), {"mac": str(r["mac"]), "data_types": [], "third_parties": [],
                                             "countries": []})  # fmt: skip
        row["data_types"] = list(r["kinds"])
    return sorted(out.values(), key=lambda r: r["mac"])


def fact_flows(store: Store, capture_id: str, device: str) -> Rows:
    """One device's flows in one capture with what the rules need of them, oldest first."""
    where, params = scope([capture_id], device)
    return store.query(
        f"""SELECT flow_id, first_ns, last_ns, if(domain != '', domain, remote_ip) AS destination,
            remote_ip, remote_port, proto, organisation, party, service_kind, country, cross_border,
            security, readable, app, direction, phase,
            if(direction = 'inbound', bytes_down, bytes_up) AS bytes_out,
            if(direction = 'inbound', bytes_up, bytes_down) AS bytes_in
        FROM {{db}}.flows WHERE {where} ORDER BY first_ns""",
        params,
    )


def capture_provenance(store: Store, capture_ids: list[str] | None = None) -> Rows:
    """The current run of each capture with everything a report cites about it: files and their
    sha256, time span, truncation, the databases and catalogue it was enriched with, masking."""
    where, params = scope(capture_ids)
    return store.query(
        f"""SELECT capture_id, path, files, file_sha256, format, compressed, packets, bytes, first_ns,
            last_ns, link_types, truncated, read_error, skipped_packets, decode_stats, flows, devices,
            idle_timeout_s, active_timeout_s, lan_prefixes, bench_sha256, home, geoip_db, geoip_version,
            catalog_version, psl_version, raw_evidence, phases_sha256, tool_version,
            toString(ingested_at) AS ingested_at
        FROM {capture_rows(where)} ORDER BY first_ns, path""",
        params,
    )


def device_captures(store: Store, device: str, capture_ids: list[str] | None = None) -> list[str]:
    """The captures (current runs) in which a device was seen, oldest first."""
    where, params = scope(capture_ids)
    rows = store.query(
        f"""SELECT capture_id AS cap, min(first_ns) AS seen FROM {{db}}.devices
        WHERE {where} AND mac = %(dev)s GROUP BY cap ORDER BY seen, cap""",
        {**params, "dev": device},
    )
    return [str(r["cap"]) for r in rows]


def capture_files(store: Store, capture_id: str) -> Rows:
    """The current run of one capture: its files in replay order, their sha256, its link types."""
    return store.query(
        f"""SELECT capture_id, ingest_id, path, files, file_sha256, link_types, packets, first_ns, last_ns
        FROM {capture_rows(f"ingest_id IN ({CURRENT}) AND capture_id = %(c)s")}""",
        {"c": capture_id},
    )


def flows_by_id(store: Store, capture_id: str, flow_ids: list[int]) -> Rows:
    """Flow records of one capture's current run by id, with their 5-tuple, time span and packets."""
    where, params = scope([capture_id])
    return store.query(
        f"""SELECT flow_id, first_ns, last_ns, ip_version, proto, src_ip, src_port, dst_ip, dst_port, vlan,
            device_mac, pkts_up, pkts_down, if(domain != '', domain, remote_ip) AS destination
        FROM {{db}}.flows WHERE {where} AND has(%(ids)s, flow_id) ORDER BY first_ns, flow_id""",
        {**params, "ids": [int(i) for i in flow_ids]},
    )


def phase_rows(store: Store, where: str, params: dict[str, Any]) -> Rows:
    """Phase rows of ``where``, one per mark: a live session writes a mark's row when it is made
    (end 0: still running) and again when the next mark ends it; a running one ends with the
    capture's newest packet."""
    return store.query(
        f"""SELECT capture_id, p.phase AS phase, p.start_ns AS start_ns,
            if(p.stop = 0, greatest(c.last, p.start_ns), p.stop) AS end_ns, p.remark AS note,
            p.dev AS device_mac
        FROM (SELECT capture_id, phase, start_ns, max(end_ns) AS stop, any(note) AS remark,
                  device_mac AS dev
              FROM {{db}}.phases WHERE {where} GROUP BY capture_id, phase, start_ns, dev) AS p
        ANY LEFT JOIN (SELECT capture_id, last_ns AS last FROM {capture_rows(f"ingest_id IN ({CURRENT})")})
            AS c USING capture_id
        ORDER BY start_ns, device_mac""",
        params,
    )


def phase_spans(store: Store, capture_id: str, device: str | None = None) -> Rows:
    """The test phases of one capture (its current run), in time order. With ``device``, as that
    device lived them: a mark for it alone counts like a mark for all, each phase lasting until
    the next mark of either kind (the phase ``Phases.at`` gave its flows and observations)."""
    where, params = scope([capture_id])
    rows = phase_rows(store, where + " AND (device_mac = '' OR device_mac = %(pdev)s)",
                       {**params, "pdev": device or ""})  # fmt: skip
    for r in rows:
        del r["capture_id"]
    if not any(r["device_mac"] for r in rows):
        return rows
    end = max(int(r["end_ns"]) for r in rows)
    for r, nxt in zip(rows, [*rows[1:], None], strict=True):
        r["end_ns"] = int(nxt["start_ns"]) if nxt is not None else end
    return rows
