"""TLS keys through the CLI (issue 16): ``replay --keylog``, a capture's own DSBs, what the store
keeps of key files, and ``evidence --keylog-out`` / ``--dsb`` handing over exactly a finding's keys.

Real captures nobody here made: the two Firefox-to-heise.de TLS 1.2 captures of Zeek's test suite
with their key logs (../shared/pcaps/tls-decryption). Oracles: the key files themselves (sha256,
lines), tshark's ClientHello randoms, and tshark decrypting what evidence exported against the
requests tshark decrypted from the original capture (``*.tshark-http.tsv``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from appliance.store.backends import open_store
from appliance.store.schema import FINDINGS, TABLES
from tests.support.paths import shared_path
from tests.support.run import cli
from tests.support.tshark import tshark_fields

NAME = "tls12-stream-keylog"


def _one_line(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode == 1, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    return lines[0]


def _query(db: Path, sql: str, params: Any = None) -> list[dict[str, Any]]:
    store = open_store(str(db))
    try:
        return store.query(sql, params)
    finally:
        store.close()


def _copy(tmp: Path, name: str = NAME) -> tuple[Path, Path]:
    pcap = tmp / f"{name}.pcap"
    keylog = tmp / f"{name}.keylog"
    shutil.copy(shared_path("tls-decryption", f"{name}.pcap"), pcap)
    shutil.copy(shared_path("tls-decryption", f"{name}.keylog"), keylog)
    return pcap, keylog


def _oracle(name: str = NAME) -> list[tuple[str, str]]:
    text = shared_path("tls-decryption", f"{name}.tshark-http.tsv").read_text()
    return [
        (r["http.host"], r["http.request.uri"]) for r in csv.DictReader(io.StringIO(text), delimiter="\t")
    ]


def _requests(path: Path, options: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    rows = tshark_fields(path, "http.request", ["http.host", "http.request.uri"], options)
    return [(r["http.host"][0], r["http.request.uri"][0]) for _n, r in sorted(rows.items())]


def _counted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Key file rows with their line counts as ints (a server returns UInt64 as text in JSON)."""
    return [{k: (int(v) if k.endswith("lines") else v) for k, v in r.items()} for r in rows]


@pytest.mark.tshark
def test_replay_keylog_records_the_file_and_the_client_randoms(tmp_path: Path) -> None:
    pcap, keylog = _copy(tmp_path)
    db = tmp_path / "db"
    p = cli("replay", str(pcap), "--keylog", str(keylog), "--json", db=db)
    assert p.returncode == 0, p.stderr
    cap = json.loads(p.stdout)["captures"][0]
    sha = hashlib.sha256(keylog.read_bytes()).hexdigest()
    want = {"path": str(keylog), "sha256": sha, "kind": "tls-keylog", "lines": 1, "bad_lines": 0}
    assert cap["key_files"] == [want]
    assert set(cap["tls"]) == {"decrypted", "no_key", "failed"}  # the decryption core fills the counts
    rows = _query(db, "SELECT path, sha256, kind, lines, bad_lines FROM {db}.capture_keys")
    assert _counted(rows) == [want]
    assert _query(db, "SELECT count() AS n FROM {db}.capture_key_lines") == [{"n": 0}]  # secrets not kept
    stored = {r["client_random"] for r in _query(db, "SELECT client_random FROM {db}.tls")}
    hellos = tshark_fields(pcap, "tls.handshake.type == 1", ["tls.handshake.random"])
    assert stored == {r["tls.handshake.random"][0].replace(":", "") for r in hellos.values()}
    assert keylog.read_text().split()[1] in stored
    [listed] = json.loads(cli("captures", "--json", db=db).stdout)
    assert _counted(listed["key_files"]) == [want]
    human = cli("replay", str(pcap), "--keylog", str(keylog), "--force", db=db)
    assert "TLS flows:" in human.stderr and "key files 1" in human.stderr


def test_unreadable_keylog_is_one_line_and_nothing_is_stored(tmp_path: Path) -> None:
    pcap, _keylog = _copy(tmp_path)
    db = tmp_path / "db"
    line = _one_line(cli("replay", str(pcap), "--keylog", str(tmp_path / "gone.keylog"), db=db))
    assert "gone.keylog" in line and "key log" in line
    assert json.loads(cli("captures", "--json", db=db).stdout) == []


def test_a_folder_of_key_logs_counts_bad_lines(tmp_path: Path) -> None:
    pcap, keylog = _copy(tmp_path)
    folder = tmp_path / "keys"
    folder.mkdir()
    shutil.move(keylog, folder / "a.keylog")
    (folder / "b.keylog").write_text("CLIENT_RANDOM 00 11\nnot a key line\n")
    p = cli("replay", str(pcap), "--keylog", str(folder), "--json", db=tmp_path / "db")
    assert p.returncode == 0, p.stderr
    files = json.loads(p.stdout)["captures"][0]["key_files"]
    assert [(Path(f["path"]).name, f["lines"], f["bad_lines"]) for f in files] == [
        ("a.keylog", 1, 0),
        ("b.keylog", 0, 2),
    ]


@pytest.mark.tshark
def test_a_pcapng_brings_its_own_keys(tmp_path: Path) -> None:
    pcap, keylog = _copy(tmp_path)
    ng = tmp_path / "with-keys.pcapng"
    subprocess.run(["editcap", "--inject-secrets", f"tls,{keylog}", str(pcap), str(ng)], check=True)
    p = cli("replay", str(ng), "--json", db=tmp_path / "db")
    assert p.returncode == 0, p.stderr
    [ks] = json.loads(p.stdout)["captures"][0]["key_files"]
    sha = hashlib.sha256(keylog.read_bytes()).hexdigest()  # editcap embeds the file as it is
    assert (ks["kind"], ks["path"], ks["sha256"], ks["lines"]) == ("tls-dsb", str(ng), sha, 1)


def _finding(db: Path, fid: str, client_random: str = "") -> None:
    """A finding naming every TLS flow of the capture, or the one of this ClientHello random
    (the rule does not matter to evidence)."""
    cap = _query(db, "SELECT capture_id, ingest_id FROM {db}.captures ORDER BY ingest_id DESC LIMIT 1")[0]
    where = "WHERE client_random = %(r)s" if client_random else ""
    flows = [int(r["flow_id"]) for r in _query(db, f"SELECT DISTINCT flow_id FROM {{db}}.tls {where}",
                                                 {"r": client_random})]  # fmt: skip
    assert flows
    empty = ("device_mac", "rules_sha256", "declaration_sha256", "statement", "statement_zh")
    fields: dict[str, Any] = dict.fromkeys(empty, "")
    fields.update(figures="{}", requirements=[], excerpts=[], first_ns=0, last_ns=0)
    row = FINDINGS.row(
        capture_id=cap["capture_id"],
        ingest_id=int(cap["ingest_id"]),
        assess_id=time.time_ns(),
        finding_id=fid,
        rule_id="TEST-TLS",
        fact="test",
        pack="test",
        pack_version="1",
        severity="info",
        flow_ids=flows,
        observations=0,
        **fields,
    )
    store = open_store(str(db))
    try:
        store.insert("findings", [row])
    finally:
        store.close()


@pytest.mark.tshark
def test_evidence_hands_over_exactly_the_findings_keys(tmp_path: Path) -> None:
    pcap, keylog = _copy(tmp_path)
    db = tmp_path / "db"
    assert cli("replay", str(pcap), "--keylog", str(keylog), "-q", db=db).returncode == 0
    fid = "d4" * 8
    _finding(db, fid)
    out, keys = tmp_path / "out.pcap", tmp_path / "out.keys"
    p = cli("evidence", fid, "-o", str(out), "--keylog-out", str(keys), "--json", db=db)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["key_lines"] == 1
    assert keys.read_text().split() == keylog.read_text().split()
    assert _requests(out) == []  # without the key log nothing is read
    assert _requests(out, ("-o", f"tls.keylog_file:{keys}")) == _oracle()
    ng = tmp_path / "out.pcapng"
    assert cli("evidence", fid, "-o", str(ng), "--dsb", db=db).returncode == 0
    assert _requests(ng) == _oracle()  # the DSB alone decrypts it

    keylog.write_text(keylog.read_text() + "# edited\n")
    line = _one_line(cli("evidence", fid, "-o", str(out), "--keylog-out", str(keys), db=db))
    assert "changed since the replay" in line and str(keylog) in line


@pytest.mark.tshark
def test_raw_evidence_keeps_the_lines_for_when_the_key_file_is_gone(tmp_path: Path) -> None:
    pcap, keylog = _copy(tmp_path)
    _other_pcap, other = _copy(tmp_path, "tls12-decryption")  # keys for another capture: not kept
    db = tmp_path / "db"
    p = cli(
        "replay", str(pcap), "--keylog", str(keylog), "--keylog", str(other), "--raw-evidence", "-q", db=db
    )
    assert p.returncode == 0, p.stderr
    kept = _query(db, "SELECT line FROM {db}.capture_key_lines")
    assert [r["line"].split() for r in kept] == [keylog.read_text().split()]
    keylog.unlink()
    fid = "d5" * 8
    _finding(db, fid)
    ng = tmp_path / "out.pcapng"
    p = cli("evidence", fid, "-o", str(ng), "--dsb", db=db)
    assert p.returncode == 0, p.stderr
    assert _requests(ng) == _oracle()


@pytest.mark.tshark
def test_evidence_keys_are_exactly_the_findings_flows(tmp_path: Path) -> None:
    """Two captures merged, replayed with both key logs: a finding on one flow gets its line only;
    replayed with one key log, a finding on both flows says one handshake has no key."""
    stream_pcap, stream_keys = _copy(tmp_path)
    other_pcap, other_keys = _copy(tmp_path, "tls12-decryption")
    merged = tmp_path / "merged.pcap"
    subprocess.run(
        ["mergecap", "-F", "pcap", "-w", str(merged), str(stream_pcap), str(other_pcap)], check=True
    )
    db = tmp_path / "db"
    p = cli("replay", str(merged), "--keylog", str(stream_keys), "--keylog", str(other_keys), "-q", db=db)
    assert p.returncode == 0, p.stderr
    fid, want = "d6" * 8, stream_keys.read_text().split()
    _finding(db, fid, client_random=want[1])
    out, keys = tmp_path / "one.pcap", tmp_path / "one.keys"
    doc = json.loads(cli("evidence", fid, "-o", str(out), "--keylog-out", str(keys), "--json", db=db).stdout)
    assert (doc["key_lines"], doc["tls_without_key"]) == (1, 0)
    assert keys.read_text().split() == want  # not the other capture's line
    assert _requests(out, ("-o", f"tls.keylog_file:{keys}")) == _oracle()

    db2 = tmp_path / "db2"
    assert cli("replay", str(merged), "--keylog", str(stream_keys), "-q", db=db2).returncode == 0
    _finding(db2, fid)
    doc = json.loads(cli("evidence", fid, "-o", str(out), "--keylog-out", str(keys), "--json", db=db2).stdout)
    assert (doc["key_lines"], doc["tls_without_key"]) == (1, 1)


def _secret_columns(db: Path, secret: str) -> set[str]:
    """Every table.column of every declared table whose value holds the secret (hex, either case)."""
    found = set()
    store = open_store(str(db))
    try:
        for t in TABLES:
            for row in store.query(f"SELECT * FROM {{db}}.`{t.name}`"):
                for col, value in row.items():
                    if secret in str(value).lower():
                        found.add(f"{t.name}.{col}")
    finally:
        store.close()
    return found


def test_no_secret_at_rest_or_in_output_unless_raw_evidence(tmp_path: Path) -> None:
    pcap, keylog = _copy(tmp_path)
    secret = keylog.read_text().split()[2].lower()
    db = tmp_path / "db"
    p = cli("replay", str(pcap), "--keylog", str(keylog), "--json", db=db)
    assert p.returncode == 0 and secret not in (p.stdout + p.stderr).lower()
    assert _secret_columns(db, secret) == set()
    raw = tmp_path / "raw"
    assert cli("replay", str(pcap), "--keylog", str(keylog), "--raw-evidence", "-q", db=raw).returncode == 0
    assert _secret_columns(raw, secret) == {"capture_key_lines.line"}  # the scan sees it when kept


def test_coap_over_dtls_with_its_key_log_is_observed_like_clear_coap(tmp_path: Path) -> None:
    """CoAP over DTLS (pcaps/dtlsloop, OpenSSL's DTLS 1.2): with the key log, the location and
    IMEI in the POST become observations marked tls-keylog, the flow decrypted; without it, the
    flow's tls row (server name, JA4 of transport d) and nothing inside."""
    loop = Path(__file__).resolve().parents[2] / "pcaps" / "dtlsloop"
    pcap, keylog = loop / "dtls12-gcm.pcap", loop / "dtls12-gcm.keylog"
    db = tmp_path / "db"
    p = cli("replay", str(pcap), "--keylog", str(keylog), "--json", db=db)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["captures"][0]["tls"]["decrypted"] == 1
    obs = _query(db, "SELECT data_type, plaintext FROM {db}.observations ORDER BY data_type")
    assert {(r["data_type"], r["plaintext"]) for r in obs} == {
        ("imei", "tls-keylog"),
        ("location", "tls-keylog"),
    }
    events = _query(db, "SELECT protocol, kind, name, plaintext FROM {db}.app_events ORDER BY ts_ns")
    assert [(r["protocol"], r["kind"], r["name"], r["plaintext"]) for r in events] == [
        ("coap", "POST", "/loc/report", "tls-keylog"),
        ("coap", "Changed", "/", "tls-keylog"),
        ("coap", "GET", "/cfg", "tls-keylog"),
    ]
    [flow] = _query(db, "SELECT app, security, decrypted, readable FROM {db}.flows")
    assert (flow["app"], flow["security"], flow["decrypted"], int(flow["readable"])) == (
        "coaps", "dtls1.2", "tls-keylog", 1,
    )  # fmt: skip
    [tls] = _query(db, "SELECT transport, sni, ja4, client_random FROM {db}.tls")
    assert (tls["transport"], tls["sni"]) == ("dtls", "coap.device.test") and tls["ja4"].startswith("dd2d")
    assert tls["client_random"] == keylog.read_text().split("CLIENT_RANDOM ")[1].split()[0]
    clear = tmp_path / "clear"
    assert cli("replay", str(pcap), db=clear).returncode == 0
    assert _query(clear, "SELECT count() AS n FROM {db}.observations") == [{"n": 0}]
    assert _query(clear, "SELECT decrypted, readable FROM {db}.flows") == [{"decrypted": "", "readable": 0}]
    assert [r["sni"] for r in _query(clear, "SELECT sni FROM {db}.tls")] == ["coap.device.test"]
