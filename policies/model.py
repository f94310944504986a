"""What the policy engine reads and writes: rules and packs (from YAML), facts about one device, findings.

Everything here is plain data. ``Facts`` are gathered from the store by
``appliance.findings.assess`` (or written by hand in a test), so the rules can be run and
tested without ClickHouse; a finding never changes the facts it came from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

ALL = "*"


@dataclass(frozen=True)
class Rule:
    id: str  # CN25-03: unique across packs
    pack: str
    title: str
    title_zh: str
    requirements: tuple[str, ...]  # TR-03 ...
    clauses: tuple[str, ...]  # the source clauses the rule implements, as a report cites them
    categories: tuple[str, ...]  # device categories it applies to ("*": all)
    phases: tuple[str, ...]  # test phases it looks at ("*": all)
    check: str  # name in policies.checks.CHECKS
    params: dict[str, Any]  # thresholds with their defaults; a declaration may override them
    severity: str  # one of policies.verdicts.SEVERITIES
    explain: str
    explain_zh: str

    def applies_to(self, category: str) -> bool:
        return ALL in self.categories or category in self.categories

    def looks_at(self, phase: str) -> bool:
        return ALL in self.phases or phase in self.phases


@dataclass(frozen=True)
class Pack:
    id: str
    version: str
    title: str
    rules: tuple[Rule, ...]
    sha256: str  # of the pack file's bytes: the report cites exactly the rules that ran


@dataclass(frozen=True)
class PhaseSpan:
    name: str
    start_ns: int
    end_ns: int


@dataclass
class Facts:
    """What was measured about one device in one capture: rows as the storage read API gives them.

    observations: ts_ns, data_type, carrier, path, confidence, decimals, metres, coord_system, excerpt,
        detail (JSON: accuracy_m, form of a persona match, dimensions...), flow_id, remote_ip,
        destination, organisation, party, service_kind, country, cross_border, security, phase
    measures: data_type, organisation, phase, reports, median_gap_s, min_gap_s,
        longest_run_s, max_decimals, best_metres, first_ns, last_ns, enc_share,
        abroad_share, third_share
    flows: flow_id, first_ns, last_ns, destination, organisation, party, service_kind,
        country, cross_border, security, readable, bytes_out, bytes_in, phase
    periods: destination, period_s, score, periodic, longest_run_s, bytes_out, first_ns, last_ns
    uploads: flow_id (as text), destination, organisation, country, security,
        phase, start_ns, end_ns, seconds, bytes_out, bytes_in, kind (audio, video or unknown),
        confidence (high, medium, low), score (0..1), leaning (nearest shape), reason
        (``checks.common.upload_rows`` gives checks them with flow_id, first_ns and phase)
    tls_tests: server_name, test, outcome, reason, tls_version, ts_ns, server_ip, server_port,
        flow_id (the interceptor's certificate-validation tests, issue 19)
    """

    capture_id: str
    device: dict[str, Any]  # mac, name, category, vendor, model, firmware
    phases: list[PhaseSpan] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    measures: list[dict[str, Any]] = field(default_factory=list)
    flows: list[dict[str, Any]] = field(default_factory=list)
    periods: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    tls_tests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def mac(self) -> str:
        return str(self.device.get("mac", ""))

    @property
    def category(self) -> str:
        return str(self.device.get("category", "unknown"))

    def phase_start(self, name: str) -> int | None:
        """When the first phase of that name began (ns), or None."""
        return next((p.start_ns for p in self.phases if p.name == name), None)


@dataclass
class Finding:
    rule: Rule
    device: str
    severity: str
    statement: str  # one sentence with the measured figures
    statement_zh: str
    figures: dict[str, Any]
    flow_ids: list[int] = field(default_factory=list)
    first_ns: int = 0
    last_ns: int = 0
    excerpts: list[str] = field(default_factory=list)  # masked values, as stored
    observations: int = 0  # how many observations back it

    @property
    def fact(self) -> str:
        """The problem this finding is about, whichever pack rules on it (``fact_key``)."""
        return fact_key(self.rule.check, str(self.figures.get("subject", "")))

    @property
    def id(self) -> str:
        """Stable over re-assessment of the same capture: rule, device and what it is about."""
        key = json.dumps([self.rule.id, self.device, self.figures.get("subject", ""), self.first_ns])
        return hashlib.sha256(key.encode()).hexdigest()[:16]


def fact_key(check: str, subject: str) -> str:
    """One problem a device has, whichever packs rule on it (issue 18, point 1): the check the rule
    runs and the subject the check found (``figures["subject"]``: the destination for clear text,
    abroad, identifiers and third parties; ``type@destination:phase`` for frequency; the data type
    for necessity; ``home``, ``before consent``...). Rules of different packs (or of one pack, as
    ETSI 5.8-1 and 5.8-2 split clear text into other and sensitive data) that run the same check on
    the same subject of the same device judge the same fact, so CN25-03 and GBT-5.2b on location
    sent every 2 min to one host are one problem with two clauses. A check's subject is what makes
    its findings distinct from each other (it is part of ``Finding.id`` too), so two facts of one
    check never merge. ``check`` alone when a check names no subject."""
    return f"{check}:{subject}" if subject else check
