"""The tapaudit CLI as a user runs it: real processes, real captures, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from appliance.store.schema import TABLES
from tests.support.paths import ROOT, shared_path
from tests.support.run import cli

REAL = sorted((ROOT / "pcaps" / "real").glob("*.pcap"))
ARIA = ROOT / "pcaps" / "real" / "iot-sentinel-aria-setup-a-1.pcap"
ARIA_MAC = "20:f8:5e:ca:91:52"


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
