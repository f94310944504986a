"""Everything a device's lab report shows, gathered from the storage read API (``appliance.store.queries``).

``gather`` returns a ``ReportData``: plain data (JSON as it is, for the dashboard), which the
renderers (HTML, Markdown, PDF) only lay out. Values are the stored excerpts as the read API
gives them: masked, a capture stored with raw evidence too (``queries.display``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from appliance import __version__
from appliance.measures import shapes
from appliance.report import charts, confirm, identity, issue, judgement, traffic
from appliance.report.charts import Chart
from appliance.report.lab import LabSettings
from appliance.store import queries
from appliance.store.backends import Store
from appliance.store.queries.findings import confirmations
from policies.model import Pack

SCHEMA = "tapaudit.report/1"


class ReportError(Exception):
    """Bad input for a report (unknown device or capture): one line for the user."""


@dataclass
class ReportData:
    schema: str
    generated_at: str  # UTC, ISO 8601
    tool_version: str
    device: dict[str, Any]
    captures: list[dict[str, Any]]
    phases: list[dict[str, Any]]
    provenance: dict[str, Any]
    requirements: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    data_types: list[dict[str, Any]]
    measures: list[dict[str, Any]]
    destinations: list[dict[str, Any]]
    unreadable: list[dict[str, Any]]
    uploads: list[dict[str, Any]]
    not_assessed: list[dict[str, Any]]
    coverage: dict[str, Any] = field(default_factory=dict)  # encrypted flows decrypted / unread
    tls_tests: list[dict[str, Any]] = field(default_factory=list)  # the interceptor's matrix (issue 19)
    confirmations: dict[str, int] = field(default_factory=dict)  # findings per Wireshark outcome
    charts: list[Chart] = field(default_factory=list)
    issue: dict[str, Any] = field(default_factory=dict)  # number, lab, customer, item, signatories

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, ensure_ascii=False, default=str)

    def chart(self, chart_id: str) -> Chart:
        return next(c for c in self.charts if c.id == chart_id)


def resolve_capture(store: Store, wanted: str) -> str:
    """A stored capture by its sha256 or a prefix of it; ReportError when none or several match."""
    have = [str(c["capture_id"]) for c in queries.captures(store)]
    match = [c for c in have if c.startswith(wanted.strip().lower())] if wanted.strip() else []
    if len(match) != 1:
        raise ReportError(
            f"--capture {wanted}: {'no' if not match else 'more than one'} stored capture matches"
        )
    return match[0]


@dataclass
class Judged:
    """What the verdicts are drawn from, and the verdicts: shared by the report and the dashboard."""

    phases: list[dict[str, Any]]
    destinations: list[dict[str, Any]]
    assessments: list[dict[str, Any]]
    packs: dict[str, Pack]
    packs_verified: bool
    findings: list[dict[str, Any]]
    unreadable: list[dict[str, Any]]
    uploads: list[dict[str, Any]]
    requirements: list[dict[str, Any]]


def judge(store: Store, caps: list[str], dev: dict[str, Any]) -> Judged:
    """A device's findings and its verdict per requirement, with what they were judged on."""
    mac = str(dev["mac"])
    phases = identity.phases(store, caps, mac)
    destinations = [traffic.destination_row(r) for r in queries.destinations(store, caps, mac)]
    assessments = queries.assessments(store, caps)
    packs, packs_verified = judgement.packs_that_ran(assessments)
    findings = [judgement.finding_row(r, packs) for r in queries.findings(store, caps, mac)]
    confirm.attach(findings, confirmations(store, caps))  # Wireshark's check of each (issue 22)
    unreadable = traffic.unreadable(store, caps, mac)
    uploads = [traffic.upload_row(r) for r in shapes.uploads(store, caps, mac)]
    # flows off the LAN whose content the appliance read (local DHCP, mDNS... do not count)
    readable_flows = sum(d["flows"] for d in destinations) - sum(u["flows"] for u in unreadable)
    payloadless = bool(caps) and queries.log_captures(store, caps) == set(caps)  # Zeek logs only
    requirements = judgement.requirements(
        dev, findings, assessments, packs, phases, readable_flows, unreadable, uploads, payloadless
    )
    return Judged(phases, destinations, assessments, packs, packs_verified, findings, unreadable, uploads,
                  requirements)  # fmt: skip


def requirements_of(store: Store, mac: str, capture_ids: list[str] | None = None) -> list[dict[str, Any]]:
    """One device's verdict per requirement over the given captures (all it is in by default), as
    its report gives them; [] when the device is in none of them."""
    caps = queries.device_captures(store, mac, capture_ids)
    if not caps:
        return []
    dev = next(d for d in queries.devices(store, caps) if d["mac"] == mac)
    return judge(store, caps, dev).requirements


def gather(
    store: Store,
    mac: str,
    capture: str | None = None,
    now: dt.datetime | None = None,
    lab: LabSettings | None = None,
) -> ReportData:
    """The report of one device (a normalised MAC) over the captures it is in, or over one capture,
    issued by the laboratory of ``lab`` (its settings file, ``appliance.report.lab``)."""
    scope = [resolve_capture(store, capture)] if capture else None
    caps = queries.device_captures(store, mac, scope)
    if not caps:
        where = f"capture {scope[0][:16]}" if scope else "any stored capture"
        raise ReportError(f"--device {mac}: not seen in {where} (see `tapaudit devices`)")
    dev = next(d for d in queries.devices(store, caps) if d["mac"] == mac)
    provenance_rows = queries.capture_provenance(store, caps)
    captures = [identity.capture_row(r) for r in provenance_rows]
    j = judge(store, caps, dev)
    phases, destinations, assessments, findings = j.phases, j.destinations, j.assessments, j.findings
    unreadable, uploads, requirements = j.unreadable, j.uploads, j.requirements
    measures = [traffic.measure_row(r) for r in queries.measures(store, caps, mac)]
    series = queries.observation_series(store, caps, mac)
    examples = queries.observation_examples(store, caps, mac)
    provenance = judgement.provenance(provenance_rows, assessments, j.packs, j.packs_verified)
    name_flows(store, findings)
    generated = now or dt.datetime.now(dt.UTC)
    data = ReportData(
        schema=SCHEMA,
        generated_at=generated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        tool_version=__version__,
        device=identity.device_row(dev),
        captures=captures,
        phases=phases,
        provenance=provenance,
        requirements=requirements,
        findings=findings,
        data_types=traffic.data_types(series, measures, examples, [p["phase"] for p in phases]),
        measures=measures,
        destinations=destinations,
        unreadable=unreadable,
        uploads=uploads,
        not_assessed=judgement.not_assessed(
            captures, assessments, requirements, unreadable, uploads, provenance
        )
        + confirm.not_confirmed(findings),
        confirmations=confirm.counts(findings),
        coverage=traffic.coverage(store, caps, mac),
        tls_tests=queries.tls_test_matrix(queries.tls_tests(store, caps, mac)),
    )
    data.issue = issue.issue_block(
        lab or LabSettings(), data.device, captures, provenance["assessments"], requirements, generated
    )
    gaps: dict[str, list[float]] = defaultdict(list)
    times: dict[str, list[int]] = defaultdict(list)
    for s in series:
        gaps[str(s["data_type"])] += [int(g) / 1e9 for g in s["gaps"]]
        times[str(s["data_type"])] += [int(t) for t in s["times"]]
    data.charts = [
        charts.interval_chart(dict(gaps)),
        charts.destination_chart(destinations),
        charts.timeline_chart(dict(times), [p for p in phases if p["start_ns"]]),
    ]
    return data


def name_flows(store: Store, findings: list[dict[str, Any]]) -> None:
    """Each finding's flows as a reader names them (``flows``: first packet's time, device,
    destination and port, protocol) beside their ids, which only the store knows."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for f in findings:
        wanted[str(f["capture_id"])].update(int(i) for i in f["flow_ids"])
    known: dict[tuple[str, int], dict[str, Any]] = {}
    for cap, ids in wanted.items():
        for r in queries.flows_by_id(store, cap, sorted(ids)):
            known[(cap, int(r["flow_id"]))] = {
                "flow_id": int(r["flow_id"]),
                "first_ns": int(r["first_ns"]),
                "device": str(r["device_mac"]),
                "destination": str(r["destination"]),
                "port": int(r["dst_port"]),
                "proto": int(r["proto"]),
            }
    for f in findings:
        cap = str(f["capture_id"])
        f["flows"] = [known[(cap, int(i))] for i in f["flow_ids"] if (cap, int(i)) in known]
