"""The tapaudit CLI as a user runs it: real processes, real captures, exit codes and one-line errors."""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from appliance.store.schema import TABLES
from tests.support.paths import LAB, ROOT, shared_path
from tests.support.run import assessed_lab, cli

REAL = sorted((ROOT / "pcaps" / "real").glob("*.pcap"))
ARIA = ROOT / "pcaps" / "real" / "iot-sentinel-aria-setup-a-1.pcap"
ARIA_MAC = "20:f8:5e:ca:91:52"
TRUTH: dict[str, Any] = yaml.safe_load((LAB / "lab.truth.yaml").read_text())
WATCH = "e0:06:30:5a:11:21"  # Huawei Watch GT (lab)
CHILD_WATCH = "80:41:4e:7c:22:31"  # imoo Kids Watch Z7


def one_line_error(p: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert p.returncode == code, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("tapaudit: error:")
    return lines[0]


def test_help_and_version() -> None:
    p = cli("--help")
    assert p.returncode == 0 and "replay" in p.stdout and "devices" in p.stdout
    p = cli("--version")
    assert p.returncode == 0 and p.stdout.startswith("tapaudit ")
    assert cli("replay", "--help").returncode == 0


def test_usage_error_exits_2() -> None:
    p = cli("replay")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert cli("no-such-command").returncode == 2


def test_replay_then_read_back_and_no_duplicates(tmp_path: Path) -> None:
    db = tmp_path / "db"
    assert len(REAL) >= 3
    p = cli("replay", *map(str, REAL), "--json", db=db)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert [c["status"] for c in doc["captures"]] == ["ingested"] * len(REAL)
    assert all(c["packets"] > 0 and c["flows"] > 0 for c in doc["captures"])
    macs = {d["mac"]: d for d in doc["devices"]}
    assert ARIA_MAC in macs and macs[ARIA_MAC]["oui_vendor"]

    def counts() -> tuple[int, int, int]:
        caps = json.loads(cli("captures", "--json", db=db).stdout)
        flows = json.loads(cli("flows", "--json", "--limit", "1000000", db=db).stdout)
        devs = json.loads(cli("devices", "--json", db=db).stdout)
        return len(caps), len(flows), len(devs)

    before = counts()
    assert before[0] == len(REAL) and before[1] == sum(c["flows"] for c in doc["captures"])
    again = json.loads(cli("replay", *map(str, REAL), "--json", db=db).stdout)
    assert [c["status"] for c in again["captures"]] == ["skipped"] * len(REAL)
    assert counts() == before
    forced = cli("replay", str(ARIA), "--force", "--json", db=db)
    assert json.loads(forced.stdout)["captures"][0]["status"] == "ingested"
    assert counts() == before

    one = json.loads(cli("flows", "--device", ARIA_MAC.upper(), "--json", "--limit", "100000", db=db).stdout)
    assert one and all(ARIA_MAC in (f["device_mac"], f["src_mac"], f["dst_mac"]) for f in one)
    table = cli("devices", db=db)
    assert table.returncode == 0 and ARIA_MAC in table.stdout


def test_devices_without_macs_say_how_they_were_found(tmp_path: Path) -> None:
    """A raw-IP capture (a phone's VPN app): its one device is listed under its address's key,
    found by ``local-address``, in the table and in JSON."""
    db = tmp_path / "db"
    assert cli("replay", str(shared_path("nDPI", "pcap", "ocs.pcap")), db=db).returncode == 0
    devs = json.loads(cli("devices", "--json", db=db).stdout)
    assert [(d["mac"], d["attributed_by"], d["ipv4"]) for d in devs] == [
        ("06:00:c0:a8:b4:02", "local-address", ["192.168.180.2"])
    ]
    table = cli("devices", db=db).stdout
    assert "Found by" in table and "local-address" in table and "06:00:c0:a8:b4:02" in table


def test_human_output_has_summary_table(tmp_path: Path) -> None:
    p = cli("replay", str(ARIA), db=tmp_path / "db")
    assert p.returncode == 0
    assert "Devices" in p.stdout and ARIA_MAC in p.stdout
    assert "packets" in p.stderr and "flows" in p.stderr


def test_missing_file(tmp_path: Path) -> None:
    line = one_line_error(cli("replay", str(tmp_path / "nope.pcap"), db=tmp_path / "db"))
    assert "nope.pcap" in line


def test_not_a_capture(tmp_path: Path) -> None:
    f = tmp_path / "notes.pcap"
    f.write_text("these are not packets\n" * 10)
    line = one_line_error(cli("replay", str(f), db=tmp_path / "db"))
    assert "notes.pcap" in line


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("devices: [unclosed\n", "YAML"),
        ("devices:\n  'zz:zz': {name: x}\n", "MAC"),
        ("devices:\n  aa:bb:cc:dd:ee:ff: {category: toaster}\n", "category"),
        ("devices:\n  aa:bb:cc:dd:ee:ff: {colour: red}\n", "colour"),
        ("lan_prefixes: [300.1.0.0/16]\n", "lan_prefixes"),
    ],
)
def test_bad_bench_file(tmp_path: Path, text: str, needle: str) -> None:
    bench = tmp_path / "bench.yaml"
    bench.write_text(text)
    line = one_line_error(cli("replay", str(ARIA), "--bench", str(bench), db=tmp_path / "db"))
    assert needle in line and "bench.yaml" in line


def test_unreachable_server() -> None:
    line = one_line_error(cli("devices", "--db", "clickhouse://default:@127.0.0.1:1/tapaudit"))
    assert "127.0.0.1:1" in line


def test_db_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "notadir"
    f.write_text("x")
    assert "not a data folder" in one_line_error(cli("devices", db=f))


def test_bad_device_mac(tmp_path: Path) -> None:
    assert "--device" in one_line_error(cli("flows", "--device", "not-a-mac", db=tmp_path / "db"))


def test_bad_path_fails_before_work_and_keeps_what_was_stored(tmp_path: Path) -> None:
    db = tmp_path / "db"
    assert cli("replay", str(ARIA), "-q", db=db).returncode == 0
    other = REAL[-1] if REAL[-1] != ARIA else REAL[0]
    one_line_error(cli("replay", str(other), str(tmp_path / "missing.pcap"), db=db))
    caps = json.loads(cli("captures", "--json", db=db).stdout)
    assert [Path(c["path"]).name for c in caps] == [ARIA.name]


def test_truncated_capture_is_ingested_and_reported(tmp_path: Path) -> None:
    data = ARIA.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 37])
    p = cli("replay", str(cut), "--json", db=tmp_path / "db")
    assert p.returncode == 0, p.stderr
    c = json.loads(p.stdout)["captures"][0]
    full = json.loads(cli("replay", str(ARIA), "--json", db=tmp_path / "db2").stdout)["captures"][0]
    assert c["truncated"] is True and c["read_error"]
    assert c["packets"] == full["packets"] - 1
    human = cli("replay", str(cut), "--force", db=tmp_path / "db")
    assert "truncated" in human.stderr


def test_schema_prints_ddl() -> None:
    p = cli("schema")
    assert p.returncode == 0
    assert p.stdout.count("CREATE TABLE IF NOT EXISTS") == len(TABLES)  # one statement per declared table
    assert all(f"`{t.name}`" in p.stdout for t in TABLES)


@pytest.fixture(scope="module")
def lab_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lab replayed with its bench and phases and assessed against its declarations."""
    path = tmp_path_factory.mktemp("cli-lab") / "db"
    assessed_lab(str(path))
    return path


def test_fail_on_exits_3_when_a_finding_is_at_or_above_it(lab_db: Path) -> None:
    """For a product's CI: exit 3 (not an error code) when a finding at or above the severity
    exists, the output complete; the lab's Huawei watch sends sensitive data in clear (truth: fail)
    and names an undeclared third party over TLS (truth: low)."""
    truth = {f["severity"] for f in TRUTH["findings"] if f["device"] == WATCH}
    assert {"fail", "low"} <= truth
    p = cli("findings", "--device", WATCH, "--json", "--fail-on", "high", db=lab_db)
    assert p.returncode == 3, p.stderr
    rows = json.loads(p.stdout)  # stdout is the whole JSON, as without --fail-on
    n = sum(r["severity"] in ("fail", "high") for r in rows)
    assert n and p.stderr.strip().splitlines() == [
        f"tapaudit: {n} findings at or above high (--fail-on high)"
    ]
    assert rows == json.loads(cli("findings", "--device", WATCH, "--json", db=lab_db).stdout)
    # only the low findings listed: none at or above medium
    p = cli("findings", "--device", WATCH, "--severity", "low", "--fail-on", "medium", db=lab_db)
    assert p.returncode == 0 and p.stderr == "" and "low" in p.stdout
    assert (
        cli("findings", "--device", WATCH, "--severity", "low", "--fail-on", "low", db=lab_db).returncode == 3
    )
    assert cli("findings", "--fail-on", "urgent", db=lab_db).returncode == 2  # not a severity: usage


def test_assess_fail_on(lab_db: Path) -> None:
    # the COPPA pack raises high findings on the lab's children's devices, none of severity fail
    coppa = {f["severity"] for f in TRUTH["findings"] if f["rule"].startswith("COPPA-")}
    assert coppa == {"high"}
    decl = str(LAB / "declarations")
    p = cli("assess", "--pack", "coppa", "--declaration", decl, "--fail-on", "fail", "--json", db=lab_db)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)[0]["findings"]["high"] > 0
    p = cli("assess", "--pack", "coppa", "--declaration", decl, "--fail-on", "high", db=lab_db)
    assert p.returncode == 3 and "at or above high (--fail-on high)" in p.stderr
    assert "high" in p.stdout  # the summary line is printed before the exit
    assert cli("assess", "--declaration", decl, db=lab_db).returncode == 0  # every pack again, no --fail-on


def test_a_limit_that_cuts_says_so_on_stderr(lab_db: Path) -> None:
    total = TRUTH["flows"]
    p = cli("flows", "--limit", "5", "--json", db=lab_db)
    assert p.returncode == 0 and len(json.loads(p.stdout)) == 5
    assert p.stderr.strip().splitlines() == [f"tapaudit: showing 5 of {total:,} rows; --limit 0 for all"]
    p = cli("flows", "--limit", "5", "--offset", "10", db=lab_db)
    assert p.stderr.strip() == f"tapaudit: showing rows 11-15 of {total:,}; --limit 0 for all"
    p = cli("flows", "--limit", "0", "--json", db=lab_db)
    assert len(json.loads(p.stdout)) == total and p.stderr == ""
    p = cli("observations", "--device", CHILD_WATCH, "--limit", "3", "--json", db=lab_db)
    everything = json.loads(
        cli("observations", "--device", CHILD_WATCH, "--limit", "0", "--json", db=lab_db).stdout
    )
    assert len(json.loads(p.stdout)) == 3 and len(everything) > 3
    assert p.stderr.strip() == f"tapaudit: showing 3 of {len(everything):,} rows; --limit 0 for all"


def test_observations_json_carries_the_phase(lab_db: Path) -> None:
    """Each observation's phase is the one the lab's phases file gives its time (read here with csv)."""
    with open(LAB / "lab.phases.csv", newline="") as fh:
        marks = [(dt.datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")).timestamp(), r["phase"])
                 for r in csv.DictReader(fh)]  # fmt: skip
    starts = [t for t, _ in marks]
    rows = json.loads(
        cli("observations", "--device", CHILD_WATCH, "--limit", "0", "--json", db=lab_db).stdout
    )
    assert rows
    for r in rows:
        i = bisect.bisect_right(starts, r["ts_ns"] / 1e9) - 1
        assert r["phase"] == (marks[i][1] if i >= 0 else "unmarked"), r
    assert {r["phase"] for r in rows} == {p for _, p in marks}
