"""tapaudit's own outputs held against golden files (``tests/golden/expected``).

The DDL, ``destinations --json`` on the lab and the child watch's report in Markdown are what a
lab and the tools around it read: a change to any of them shows up here as a diff to review, and
``pytest --update-golden`` takes it once it is intended.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.golden import check_golden
from tests.support.run import assessed_lab, cli

CHILD_WATCH = "80:41:4e:7c:22:31"  # imoo Kids Watch Z7 (pcaps/lab/lab.bench.yaml)
pytestmark = pytest.mark.xdist_group("golden")  # one worker: the assessed lab is shared by the module


@pytest.fixture(scope="module")
def lab_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("golden") / "db"
    assessed_lab(str(path))
    return path


def test_schema_ddl(request: pytest.FixtureRequest) -> None:
    p = cli("schema")
    assert p.returncode == 0, p.stderr
    check_golden(request, "schema.sql", p.stdout)


def test_destinations_json(request: pytest.FixtureRequest, lab_db: Path) -> None:
    p = cli("destinations", "--json", db=lab_db)
    assert p.returncode == 0, p.stderr
    check_golden(request, "destinations.json", p.stdout)


def test_child_watch_report_markdown(request: pytest.FixtureRequest, lab_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "watch.md"
    p = cli("report", "--device", CHILD_WATCH, "--format", "md", "-o", str(out), db=lab_db)
    assert p.returncode == 0, p.stderr
    check_golden(request, "report-child-watch.md", out.read_text(encoding="utf-8"))
