"""Reads of what the policy packs found: findings, assessments, evidence exports."""

from __future__ import annotations

import json
from typing import Any

from appliance.masking import mask
from appliance.store.backends import Store
from appliance.store.queries.display import shown
from appliance.store.queries.scope import CURRENT, CURRENT_FINDINGS, Rows, scope


def findings(
    store: Store,
    capture_ids: list[str] | None = None,
    device: str | None = None,
    severity: str | None = None,
    reveal: bool = False,
) -> Rows:
    """Current findings, most severe first; excerpts masked unless ``reveal`` (``display.shown``)."""
    from policies.verdicts import SEVERITIES  # here: see ``problems.group``

    where, params = scope(capture_ids, device)
    where += f" AND assess_id IN ({CURRENT_FINDINGS}) AND rule_id != ''"
    if severity:
        where += " AND severity = %(sev)s"
        params["sev"] = severity
    rows = store.query(
        f"""SELECT capture_id, finding_id, device_mac, rule_id, fact, pack, pack_version, rules_sha256,
            declaration_sha256, severity, requirements, statement, statement_zh, figures,
            arrayMap(x -> toString(x), flow_ids) AS flows, first_ns, last_ns, excerpts, observations,
            assess_id
        FROM {{db}}.findings WHERE {where}
        ORDER BY indexOf({list(SEVERITIES)!r}, severity), device_mac, rule_id,
            first_ns, finding_id""",
        params,
    )
    return shown(store, rows, reveal, "capture_id", _mask_excerpts)


def _mask_excerpts(r: dict[str, Any]) -> None:
    r["excerpts"] = [mask(str(e)) for e in r["excerpts"]]


def assessments(store: Store, capture_ids: list[str] | None = None) -> Rows:
    """The current assessment of each capture, with or without findings: when (``assess_id``), the
    packs that raised findings (``pack_versions``, ``pack@version``), the hash of every pack that ran
    and of the declaration used (``rules_sha256``, ``declaration_sha256``), ``nfindings``.

    The hashes are aggregated under other aliases in an inner select (ClickHouse would substitute
    an alias equal to a column inside its own aggregate) and handed out under the schema's names."""
    where, params = scope(capture_ids)
    return store.query(
        f"""SELECT capture_id, assess_id, rules_hash AS rules_sha256, declaration_hash AS declaration_sha256,
            pack_versions, nfindings
        FROM (
            SELECT capture_id, assess_id, any(rules_sha256) AS rules_hash,
                any(declaration_sha256) AS declaration_hash,
                arraySort(groupUniqArrayIf(concat(pack, '@', pack_version), pack != '')) AS pack_versions,
                countIf(rule_id != '') AS nfindings
            FROM {{db}}.findings WHERE {where} AND assess_id IN ({CURRENT_FINDINGS})
            GROUP BY capture_id, assess_id
        ) ORDER BY capture_id""",
        params,
    )


def finding(store: Store, finding_id: str) -> Rows:
    """Current findings whose id is ``finding_id`` or starts with it (a unique prefix names one)."""
    where = f"ingest_id IN ({CURRENT}) AND assess_id IN ({CURRENT_FINDINGS}) AND rule_id != ''"
    return store.query(
        f"""SELECT capture_id, ingest_id, assess_id, finding_id, device_mac, rule_id, severity, statement,
            figures, flow_ids, first_ns, last_ns
        FROM {{db}}.findings WHERE {where} AND startsWith(finding_id, %(f)s)
        ORDER BY finding_id LIMIT 2""",
        {"f": finding_id.lower()},
    )


def evidence_exports(store: Store, finding_id: str | None = None) -> Rows:
    """Evidence files written for findings (all, or one finding's), newest first."""
    where, params = "1", {}
    if finding_id:
        where, params = "finding_id = %(f)s", {"f": finding_id}
    return store.query(
        f"""SELECT capture_id, finding_id, path, sha256, format, packets, bytes,
            arrayMap(x -> toString(x), flow_ids) AS flows, created_ns
        FROM {{db}}.evidence_exports WHERE {where} ORDER BY created_ns DESC""",
        params,
    )


def json_list(value: Any) -> list[Any]:
    """A confirmations JSON column (``checks``, ``packets``, ``tree``) as a list; [] when empty or
    not a list (a row of an older or broken writer is shown as nothing, never a traceback)."""
    try:
        got = json.loads(str(value or "[]"))
    except ValueError:
        return []
    return got if isinstance(got, list) else []


CONFIRM_FIELDS = (
    "capture_id, ingest_id, assess_id, finding_id, confirm_id, outcome, reason, checks, packets, tree, "
    "tshark_version, keyed, checked_ns"
)


def confirmations(store: Store, capture_ids: list[str] | None = None, finding_id: str | None = None) -> Rows:
    """The newest Wireshark check of each current finding (issue 22), or of one finding: outcome,
    reason, and the JSON columns ``checks``, ``packets``, ``tree`` (masked when written). A finding
    never checked has no row; one checked under an older assessment is not current."""
    where, params = scope(capture_ids, None)
    where += f" AND assess_id IN ({CURRENT_FINDINGS})"
    if finding_id:
        where += " AND finding_id = %(f)s"
        params["f"] = finding_id
    return store.query(
        f"""SELECT {CONFIRM_FIELDS} FROM {{db}}.confirmations
        WHERE {where} AND (finding_id, confirm_id) IN (
            SELECT finding_id, max(confirm_id) FROM {{db}}.confirmations WHERE {where} GROUP BY finding_id)
        ORDER BY capture_id, finding_id""",
        params,
    )
