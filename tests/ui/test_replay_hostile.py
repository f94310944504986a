"""`tapaudit replay` on hostile input (issue 17): one line and exit 1 for what is refused, nothing
stored for it; out-of-range timestamps counted in the decode stats; escape sequences in a file
name never reach the terminal raw."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from appliance.cli.common import one_line, safe
from appliance.ingest.replay import ReplayOptions, replay
from appliance.store.backends import open_store
from tests.support import hostile
from tests.support.paths import ROOT
from tests.support.run import cli


def _one_line(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tapaudit: error: "), p.stderr
    return lines[0]


def _stored(db: Path) -> tuple[int, int]:
    """(captures rows, flows rows) in the data folder."""
    store = open_store(str(db))
    try:
        store.ensure_schema()
        caps = store.query("SELECT count() AS n FROM {db}.captures")[0]["n"]
        flows = store.query("SELECT count() AS n FROM {db}.flows")[0]["n"]
    finally:
        store.close()
    return int(caps), int(flows)


def test_a_fifo_is_refused_in_one_line_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "live.pcap"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    line = _one_line(cli("replay", "-q", str(fifo), db=tmp_path / "db"))
    assert time.monotonic() - t0 < 120  # cli() itself would time out at 300 s on a hang
    assert "is a FIFO (named pipe), not a capture file" in line


def test_escape_sequences_in_a_file_name_are_shown_escaped(tmp_path: Path) -> None:
    """A name that would clear the screen, retitle the window and plant a link: escaped in the
    error line, no ESC or BEL byte reaches stderr."""
    name = "evil\x1b[2J\x1b]0;owned\x07\x1b]8;;https:x.example\x07click\u202e.pcap"
    bad = tmp_path / name
    bad.write_bytes(b"not a capture at all")
    line = _one_line(cli("replay", "-q", str(bad), db=tmp_path / "db"))
    assert "\x1b" not in line and "\x07" not in line and "\u202e" not in line
    assert "evil\\x1b[2J\\x1b]0;owned\\x07" in line and "\\u202e.pcap" in line
    assert "not a pcap or pcapng capture" in line


def test_safe_keeps_printable_text() -> None:
    assert safe("café 東京 capture.pcap") == "café 東京 capture.pcap"
    assert safe("a\x9bb\x7fc\td") == "a\\x9bb\\x7fc\\td"
    assert one_line("two\nlines\x1b[0m") == "two lines\\x1b[0m"


def test_over_max_decompressed_is_refused_and_nothing_stored(tmp_path: Path) -> None:
    p = tmp_path / "many.pcapng.gz"
    p.write_bytes(
        hostile.gzip_bytes(hostile.pcapng(hostile.idb(6), [1_700_000_000_000_000 + i for i in range(60_000)]))
    )
    db = tmp_path / "db"
    line = _one_line(cli("replay", "-q", "--max-decompressed", "1MiB", str(p), db=db))
    assert "decompresses to more than 1 MiB" in line and "--max-decompressed" in line
    assert _stored(db) == (0, 0)
    ok = cli("replay", "-q", "--json", "--max-decompressed", "64MiB", str(p), db=db)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["captures"][0]["packets"] == 60_000
    assert "--max-decompressed" in _one_line(cli("replay", "-q", "--max-decompressed", "lots", str(p), db=db))


def test_a_ratio_bomb_is_refused_by_default(tmp_path: Path) -> None:
    p = tmp_path / "bomb.pcapng.gz"
    hostile.write_gz_blocks(p, "epb", 8)
    db = tmp_path / "db"
    line = _one_line(cli("replay", "-q", str(p), db=db))
    assert "200:1" in line and "--max-ratio" in line
    assert _stored(db) == (0, 0)


def test_out_of_range_timestamps_are_counted_in_the_decode_stats(tmp_path: Path) -> None:
    """Before: exit 70 (OverflowError). Now the packets are stored and counted."""
    p = tmp_path / "neg.pcapng"
    p.write_bytes(hostile.pcapng(hostile.idb(6, tsoffset=-10), [1_000 + i for i in range(5)]))
    db = tmp_path / "db"
    run = cli("replay", "-q", "--json", str(p), db=db)
    assert run.returncode == 0, run.stderr
    cap = json.loads(run.stdout)["captures"][0]
    assert cap["packets"] == 5 and cap["stats"]["bad_timestamp"] == 5
    store = open_store(str(db))
    try:
        row = store.query("SELECT decode_stats, first_ns, last_ns FROM {db}.captures")[0]
    finally:
        store.close()
    assert json.loads(row["decode_stats"])["bad_timestamp"] == 5
    assert int(row["first_ns"]) == int(row["last_ns"]) == 0


def test_a_broken_gzip_is_reported_as_truncated(tmp_path: Path) -> None:
    p = tmp_path / "crc.pcapng.gz"
    p.write_bytes(
        hostile.bad_crc(hostile.gzip_bytes(hostile.pcapng(hostile.idb(6), [10**15 + i for i in range(20)])))
    )
    run = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "replay", "--db", str(tmp_path / "db"), str(p)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "truncated" in run.stderr and "CRC check failed" in run.stderr
    assert "20 packets" in run.stderr


def test_an_evidence_file_name_is_echoed_escaped(tmp_path: Path) -> None:
    cap = tmp_path / "c.pcap"
    hostile.write_flow(cap, 5, b"x", 1_772_442_000 * 10**9)
    db = tmp_path / "db"
    store = open_store(str(db))
    try:
        store.ensure_schema()
        cid = replay(store, str(cap), ReplayOptions()).capture_id
        hostile.finding_on_all_flows(store, cid, "e5c0000000000001")
    finally:
        store.close()
    out = tmp_path / "ev\x1b[31m[bold]red.pcap"
    run = cli("evidence", "e5c0000000000001", "-o", str(out), db=db)
    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stdout and "ev\\x1b[31m[bold]red.pcap" in run.stdout
    assert out.exists()
