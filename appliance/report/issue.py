"""What makes the report one a laboratory can issue (ISO/IEC 17025:2017, 7.8.2.1): its number,
the laboratory and the customer, the item tested, the test dates, the decision rule, an overall
statement of conformity, and who tested, reviewed and approved it (``appliance.report.lab``).

``issue_block`` is plain data, kept in the report's JSON as ``issue``; ``view_issue`` lays it out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from appliance.format import fmt_ts
from appliance.report.lab import LabSettings
from policies.verdicts import FAIL, NOT_ASSESSED, REVIEW

NOT_CONFIGURED = "not configured (lab settings file: see `tapaudit report --help`)"


def conformity(requirements: list[dict[str, Any]]) -> dict[str, str]:
    """The overall statement from the verdicts per requirement, under the decision rule
    (``lab.DECISION_RULE``): one failed requirement makes the item non-conforming."""
    count = {v: [q["id"] for q in requirements if q["verdict"] == v] for v in (FAIL, REVIEW, NOT_ASSESSED)}
    if count[FAIL]:
        n = len(count[FAIL])
        return {
            "result": "does not conform",
            "en": f"The item does NOT conform: {n} requirement{'s' if n > 1 else ''} "
            f"failed ({', '.join(count[FAIL])}).",
            "zh": f"结论：不符合。{n} 项要求不合格（{', '.join(count[FAIL])}）。",
        }
    if count[REVIEW]:
        return {
            "result": "not determined",
            "en": f"Conformity is not determined: {', '.join(count[REVIEW])} under review.",
            "zh": f"结论：待定。{', '.join(count[REVIEW])} 需复核。",
        }
    unassessed = f" ({', '.join(count[NOT_ASSESSED])} not assessed)" if count[NOT_ASSESSED] else ""
    return {
        "result": "conforms",
        "en": f"The item conforms to the requirements assessed{unassessed}.",
        "zh": "结论：所评估的要求均符合"
        + (f"（{', '.join(count[NOT_ASSESSED])} 未评估）" if unassessed else "")
        + "。",
    }


def issue_block(
    lab: LabSettings,
    device: dict[str, Any],
    captures: list[dict[str, Any]],
    assessments: list[dict[str, Any]],
    requirements: list[dict[str, Any]],
    generated: dt.datetime,
) -> dict[str, Any]:
    item = lab.item(str(device["mac"]))
    first = min((c["first_ns"] for c in captures if c["first_ns"]), default=0)
    last = max((c["last_ns"] for c in captures), default=0)
    return {
        "report_number": lab.report_number(str(device["mac"]), generated.date()),
        "issued": generated.strftime("%Y-%m-%d"),
        "lab_settings": lab.source,
        "laboratory": {"name": lab.lab_name, "address": lab.lab_address, "accreditation": lab.accreditation},
        "customer": {"name": lab.customer_name, "address": lab.customer_address},
        "item": {
            "product": device["name"] or "",
            "vendor": device["vendor"] or "",
            "model": device["model"] or "",
            "firmware": device["firmware"] or "",
            "mac": device["mac"],
            "serial_masked": item.serial,
            "imei_masked": item.imei,
        },
        "test_dates": {
            "capture_from": fmt_ts(first) if first else "",
            "capture_to": fmt_ts(last) if last else "",
            "assessed": sorted({str(a["assessed_at"]) for a in assessments}),
        },
        "setup": {
            "capture_point": lab.capture_point,
            "link_types": sorted({lt for c in captures for lt in c["link_types"]}),
        },
        "decision_rule": lab.decision_rule,
        "conformity": conformity(requirements),
        "signatories": [{"role": s.role, "name": s.name} for s in lab.signatories],
    }
