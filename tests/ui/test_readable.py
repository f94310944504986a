"""Readable numbers on the lab's real data (issue 18, point 3): no CLI table and no report (Markdown
and HTML, English and Chinese) shows a raw byte count over 9999, a period with three decimals, a flag
as 0/1 or a 19-digit flow id; times follow the lab's zone (TAPAUDIT_TZ or the lab settings file).
The dashboard's tables are checked in test_dashboard.py with the same rules (tests/support/readable.py).
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.readable import markdown_cells, problems, rich_cells, text_problems
from tests.support.run import assessed_lab

pytestmark = pytest.mark.xdist_group("readable")  # one worker: the replayed lab is shared

CHILD_WATCH = "80:41:4e:7c:22:31"
TABLES = ["devices", "captures", "destinations", "measures", "periods", "uploads", "findings",
          "flows --limit 0", "observations --limit 0"]  # fmt: skip


@pytest.fixture(scope="module")
def lab_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("readable") / "db")
    assessed_lab(path)
    return path


def _run(db: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "appliance.cli", "--db", db, *args]
    full = {k: v for k, v in os.environ.items() if k not in ("TAPAUDIT_TZ", "TAPAUDIT_LAB")}
    full.update({"COLUMNS": "220", "HOME": env.pop("HOME", os.environ.get("HOME", "")), **env})
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=full, timeout=300, check=False)


def _report(db: str, out: Path, lang: str, *more: str) -> subprocess.CompletedProcess[str]:
    fmt = out.suffix.lstrip(".")
    return _run(db, "report", "--device", CHILD_WATCH, "--format", fmt, "--lang", lang, *more, "-o", str(out))


@pytest.mark.parametrize("command", TABLES)
def test_cli_tables_read_as_people_read(lab_db: str, command: str) -> None:
    p = _run(lab_db, *command.split())
    assert p.returncode == 0, p.stderr
    cells = rich_cells(p.stdout)
    assert cells, p.stdout[:500]
    assert problems(cells) == [] and text_problems(p.stdout) == []


def test_cli_tables_carry_vendors_and_flags(lab_db: str) -> None:
    """A MAC with its IEEE registrant (the child watch's is BBK's), a truncated capture as no."""
    dests = rich_cells(_run(lab_db, "destinations").stdout)
    assert any(c.strip().startswith("80:41:4e:7c:22:31 (BBK") for h, c in dests if h == "Device")
    caps = rich_cells(_run(lab_db, "captures").stdout)
    assert [c.strip() for h, c in caps if h == "Truncated"] == ["no"]


def test_cli_times_in_the_lab_zone(lab_db: str, tmp_path: Path) -> None:
    """The lab's capture starts 2026-03-02 09:00:03 UTC (lab.truth.yaml first_ts): 17:00:03 in
    Shanghai (UTC+8, no summer time) from TAPAUDIT_TZ or the lab settings file; a bad zone is one line."""

    def first(out: str, zone: str) -> list[str]:  # the column's cells, not a time anywhere in the table
        return [c.strip() for h, c in rich_cells(out) if h == f"First ({zone})"]

    utc = _run(lab_db, "captures").stdout
    assert first(utc, "UTC") == ["2026-03-02 09:00:03"]
    by_env = _run(lab_db, "captures", TAPAUDIT_TZ="Asia/Shanghai").stdout
    assert first(by_env, "Asia/Shanghai") == ["2026-03-02 17:00:03"]
    lab = tmp_path / "lab.toml"
    lab.write_text('[laboratory]\nname = "L"\ntimezone = "Asia/Shanghai"\n', encoding="utf-8")
    by_file = _run(lab_db, "captures", TAPAUDIT_LAB=str(lab)).stdout
    assert first(by_file, "Asia/Shanghai") == ["2026-03-02 17:00:03"]
    bad = _run(lab_db, "captures", TAPAUDIT_TZ="Asia/Nowhere")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "TAPAUDIT_TZ" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("lang", ["en", "zh", "both"])
def test_report_reads_as_people_read(lab_db: str, tmp_path: Path, lang: str) -> None:
    md, page = tmp_path / "r.md", tmp_path / "r.html"
    for out in (md, page):
        p = _report(lab_db, out, lang)
        assert p.returncode == 0, p.stderr
    text = md.read_text(encoding="utf-8")
    cells = markdown_cells(text)
    assert len(cells) > 100
    assert problems(cells) == [] and text_problems(text) == []
    shown = html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8").split("<body", 1)[1]))
    assert text_problems(shown) == []
    assert "1199.999" not in shown and not re.search(r"\b\d{5,} (B|bytes)\b", shown)


def test_report_times_in_the_lab_zone(lab_db: str, tmp_path: Path) -> None:
    """With the example lab settings (Asia/Shanghai) the report's times and method say so."""
    path = tmp_path / "r.md"
    example = ROOT / "appliance" / "report" / "lab.example.toml"
    p = _run(
        lab_db, "report", "--device", CHILD_WATCH, "--lang", "en", "--lab", str(example), "-o", str(path)
    )
    assert p.returncode == 0, p.stderr
    text = path.read_text(encoding="utf-8")
    first = dt.datetime(2026, 3, 2, 9, 0, 3, tzinfo=dt.UTC) + dt.timedelta(hours=8)
    assert f"captured {first:%Y-%m-%d %H:%M:%S}" in text and "(UTC)" not in text
    assert "Times are in the laboratory time zone, Asia/Shanghai, UTC+08:00." in text
