"""Golden files of tapaudit's own outputs (DDL, ``--json``, report Markdown).

A golden is compared after ``canon``: what changes from run to run or machine to machine
(wall-clock times, tool and data versions, capture and ingest ids, temporary paths) is replaced
by a placeholder, so a difference is a change of tapaudit's behaviour. ``pytest --update-golden``
writes the files anew; the diff is then read and committed like code.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden" / "expected"

ROOT = Path(__file__).resolve().parents[2]
_TIME = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}| UTC)?"
_CANON = (
    (re.compile(re.escape(str(ROOT))), "<root>"),
    (re.compile(r"/tmp/[^\s\"'|]+"), "<tmp>"),
    (re.compile(r"(\"ingest_id\": )\d+"), r"\1<ns>"),  # the run's stamp (capture times are the capture's)
    # when the report or the assessment was made (the capture's own times are kept)
    (
        re.compile(
            rf"(generated |Assessment |assessed |\"(?:ingested_at|generated|assessed_at)\": \"){_TIME}"
        ),
        r"\1<time>",
    ),
    # the report's date of issue, and its number when the scheme has the date ({date}: YYYYMMDD)
    (re.compile(r"(Date of issue[^|\n]*\| )\d{4}-\d{2}-\d{2}"), r"\1<date>"),
    (re.compile(r"\bTA-\d{8}-"), "TA-<date>-"),
    (re.compile(r"(\"(?:tool_version|geoip_version|catalog_version|psl_version)\": )\"[^\"]*\""), r'\1"<v>"'),
    (re.compile(r"(tapaudit )\d+\.\d+\.\d+\b"), r"\1<v>"),
)


def canon(text: str) -> str:
    for pattern, repl in _CANON:
        text = pattern.sub(repl, text)
    return text


def check_golden(request: pytest.FixtureRequest, name: str, text: str) -> None:
    """Compare ``text`` (canonified) with ``tests/golden/expected/NAME``; rewrite it under --update-golden."""
    path = GOLDEN_DIR / name
    got = canon(text)
    if request.config.getoption("--update-golden"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"{path} is missing: run pytest --update-golden and commit it", pytrace=False)
    want = path.read_text(encoding="utf-8")
    if got != want:
        diff = "".join(
            difflib.unified_diff(want.splitlines(True), got.splitlines(True), "golden", "now", n=2)
        )
        pytest.fail(f"{name} differs from its golden (pytest --update-golden rewrites it):\n{diff[:6000]}")
