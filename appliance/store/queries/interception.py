"""The interceptor's certificate-validation tests (``tls_tests``, issue 19) as readers need them."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from appliance.store.backends import Store
from appliance.store.queries.scope import Rows, scope

TESTS = ("self-signed", "wrong-host", "untrusted-ca", "expired", "leaf-as-ca", "legacy-tls")  # served in turn


def tls_tests(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Every test the interceptor ran, oldest first: device, server name, test, outcome, why, the
    version negotiated, when, the connection's ends and its flow (flow_id as text, as others give it)."""
    where, params = scope(capture_ids, device)
    rows = store.query(
        f"""SELECT capture_id, device_mac, server_name, test, outcome, reason, tls_version, ts_ns,
            client_ip, client_port, server_ip, server_port, flow_id
        FROM {{db}}.tls_tests WHERE {where} ORDER BY ts_ns, device_mac, server_name""",
        params,
    )
    for r in rows:
        r["flow_id"] = str(r["flow_id"])
    return rows


def tls_test_matrix(rows: Rows) -> list[dict[str, Any]]:
    """One row per (device, server name): each test's outcome ('' when not run; the last outcome
    when a test ran more than once, as with --tls-tests every-connection), and how many ran."""
    cells: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        key = (str(r["device_mac"]), str(r["server_name"]))
        cells[key][str(r["test"])] = str(r["outcome"])
        counts[key] += 1
    return [
        {"device_mac": mac, "server_name": name, "tests": counts[(mac, name)],
         **{t: cells[(mac, name)].get(t, "") for t in TESTS}}
        for mac, name in sorted(cells)
    ]  # fmt: skip
