"""The storage read API: every question the CLI, reports and dashboard ask of the store.

Parameterised SQL only (``%(name)s``), aggregation pushed to ClickHouse, and the same text for
chDB and server 18.16. ``scope`` says which rows are current; ``traffic`` reads captures, devices,
flows and destinations; ``personal`` observations and their measures; ``findings`` what the
policy packs found; ``recipients`` who receives which data types, where, how precisely (the
device page's pictures). The traffic-shape reads (periods, uploads) are ``appliance.measures.shapes``.
This package re-exports the read functions, so ``queries.devices(store)`` reads as before.
"""

from appliance.store.queries.display import RevealError, raw_evidence_captures
from appliance.store.queries.findings import assessments, evidence_exports, finding, findings
from appliance.store.queries.interception import tls_test_matrix, tls_tests
from appliance.store.queries.keys import capture_keys, client_randoms, raw_key_lines
from appliance.store.queries.personal import (
    RUN_BREAK,
    data_types,
    fact_observations,
    measures,
    observation_count,
    observation_examples,
    observation_series,
    observations,
    phase_activity,
)
from appliance.store.queries.problems import problems
from appliance.store.queries.recipients import (
    destination_countries,
    home_countries,
    location_precision,
    recipient_links,
)
from appliance.store.queries.scope import COMMITTED, CURRENT, CURRENT_FINDINGS, Rows
from appliance.store.queries.traffic import (
    FLOW_COLUMNS,
    FlowFilter,
    capture_files,
    capture_provenance,
    captures,
    destinations,
    device_captures,
    device_overview,
    devices,
    fact_flows,
    flow_count,
    flow_counts,
    flows,
    flows_by_id,
    log_captures,
    phase_spans,
    tls_coverage,
    top_remotes,
    unreadable_flows,
)

__all__ = [
    "COMMITTED",
    "CURRENT",
    "CURRENT_FINDINGS",
    "FLOW_COLUMNS",
    "RUN_BREAK",
    "FlowFilter",
    "RevealError",
    "Rows",
    "assessments",
    "capture_files",
    "capture_keys",
    "capture_provenance",
    "captures",
    "client_randoms",
    "data_types",
    "destination_countries",
    "destinations",
    "device_captures",
    "device_overview",
    "devices",
    "evidence_exports",
    "fact_flows",
    "fact_observations",
    "finding",
    "findings",
    "flow_count",
    "flow_counts",
    "flows",
    "flows_by_id",
    "home_countries",
    "location_precision",
    "log_captures",
    "measures",
    "observation_count",
    "observation_examples",
    "observation_series",
    "observations",
    "phase_activity",
    "phase_spans",
    "problems",
    "raw_evidence_captures",
    "raw_key_lines",
    "recipient_links",
    "tls_coverage",
    "tls_test_matrix",
    "tls_tests",
    "top_remotes",
    "unreadable_flows",
]
