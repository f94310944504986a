"""`tapaudit intercept` end to end on a gateway lab in network namespaces (tests/support/gwlab.py, issue 19).

Three real TLS clients (Python ``ssl``) behind the appliance: one validating properly (a CA bundle),
one with CERT_NONE that still speaks TLS 1.0, one checking the chain but not the host name; a
fourth, the tester's phone, is not on the bench. The oracles are independent of the interceptor:
what each client's own TLS stack said about each connection (its ground truth), what the cloud's
servers saw (from which address), the nftables ruleset as ``nft`` lists it, and the store.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from appliance.store import queries
from appliance.store.backends import open_store
from tests.support import gwlab
from tests.support.gwlab import MODES

pytestmark = [pytest.mark.xdist_group("netns"), pytest.mark.root]
TAPAUDIT = str(Path(sys.executable).with_name("tapaudit"))
TESTS = ("self-signed", "wrong-host", "untrusted-ca", "expired", "leaf-as-ca", "legacy-tls")
# what each client's configuration must do with each test (RFC 5280 path validation, RFC 6125 names,
# and Python's TLS 1.2 floor unless lowered)
EXPECTED = {
    "validating": dict.fromkeys(TESTS, "refused"),
    "nocheck": dict.fromkeys(TESTS, "accepted"),
    "nohost": {**dict.fromkeys(TESTS, "refused"), "wrong-host": "accepted"},
}
REQUESTS, PERIOD = 8, 1.0
TABLE = "table inet tapaudit_intercept"


def _nft(lab: gwlab.Lab | None) -> str:
    argv = ["nft", "list", "ruleset"]
    r = subprocess.run(lab.argv(lab.ns_gw, argv) if lab else argv, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _bench(lab: gwlab.Lab, path: Path) -> None:
    devices = {lab.clients[m].mac: {"name": f"{m} watch", "category": "watch"} for m in gwlab.MODES}
    path.write_text(yaml.safe_dump({"lan_prefixes": [gwlab.LAN], "devices": devices}))


def _start(lab: gwlab.Lab, tmp: Path, name: str) -> subprocess.Popen[Any]:
    wd = lab.workdir
    argv = [TAPAUDIT, "intercept", "-i", lab.bridge, "--bench", str(tmp / "bench.yaml"),
            "--db", str(tmp / f"db-{name}"), "--state-dir", str(tmp / "state"),
            "--keylog-file", str(tmp / "intercept.keylog"), "--wrong-host-cert", str(wd / "other.pem"),
            "--wrong-host-key", str(wd / "other.key"), "--upstream-ca", str(lab.ca_pem),
            "--ring", str(tmp / f"ring-{name}"), "--spool", str(tmp / f"spool-{name}"),
            "--control", str(tmp / f"{name}.sock"), "--flush", "1", "--json"]  # fmt: skip
    proc = lab.popen(lab.ns_gw, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while True:  # ready: the rules are in and the proxy listens
        if proc.poll() is not None:
            raise AssertionError(
                f"intercept exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        ss = lab.run(lab.ns_gw, ["ss", "-Hltn", "sport", "= :8080"]).stdout
        if ss.strip() and TABLE in _nft(lab) and (tmp / f"{name}.sock").exists():
            return proc
        assert time.monotonic() < deadline, "the interceptor did not start"
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[Any]) -> tuple[dict[str, Any], str]:
    proc.send_signal(signal.SIGTERM)
    out, errs = proc.communicate(timeout=120)
    assert proc.returncode == 0, errs
    return json.loads(out), errs


def test_intercept_tests_each_device_and_keeps_it_working(tmp_path: Path) -> None:
    root_before = _nft(None)
    with gwlab.gateway_lab() as lab:
        _bench(lab, tmp_path / "bench.yaml")
        before = _nft(lab)
        assert "tapaudit" not in before
        proc = _start(lab, tmp_path, "main")
        during = _nft(lab)
        devs = {}
        for role, c in lab.clients.items():
            mode = role if role in gwlab.MODES else "validating"  # the phone validates too
            argv = lab.device_argv(mode, tmp_path / f"{role}.json", REQUESTS, PERIOD)
            devs[role] = lab.popen(c.ns, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for role, p in devs.items():
            _o, errs = p.communicate(timeout=180)
            assert p.returncode == 0, (role, errs)
        time.sleep(2.5)  # the last flows' FINs, and one more flush
        st, errs = _stop(proc)
        after = _nft(lab)
        https, http, udp = (lab.records(n) for n in (gwlab.HTTPS_FILE, gwlab.HTTP_FILE, gwlab.UDP_FILE))
        truth = {r: json.loads((tmp_path / f"{r}.json").read_text()) for r in lab.clients}
        macs = {r: c.mac for r, c in lab.clients.items()}
        real = lab.server_sha256()
        ips = {r: c.ip for r, c in lab.clients.items()}
    # the rules: only the bench's three MACs, only TCP 443 and 8883, gone after the stop
    assert TABLE in during and all(macs[m] in during for m in gwlab.MODES) and macs["phone"] not in during
    assert "dport { 443, 8883 }" in during and "redirect to :8080" in during
    assert after == before and _nft(None) == root_before  # nothing outside the lab's namespaces touched
    # the CA: made for this installation, key 0600, its fingerprint printed
    ca_file = tmp_path / "state" / "mitmproxy-ca.pem"
    assert stat.S_IMODE(os.stat(ca_file).st_mode) == 0o600
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    ca = x509.load_pem_x509_certificate((tmp_path / "state" / "mitmproxy-ca-cert.pem").read_bytes())
    assert f"sha256 {hashlib.sha256(ca.public_bytes(Encoding.DER)).hexdigest()}" in errs

    # every client: DNS, NTP and plain HTTP reached the cloud from the client's own address (not proxied)
    for role in lab.clients:
        assert truth[role]["http_ok"] and all(u["ok"] for u in truth[role]["udp"]), role
        assert {(u["port"], u["client"]) for u in udp if u["client"] == ips[role]} == {
            (53, ips[role]),
            (123, ips[role]),
        }
    assert sorted(h["client"] for h in http) == sorted(ips.values())
    # the phone is not intercepted: its HTTPS reached the cloud from its own address, all at the first try
    phone = truth["phone"]["attempts"]
    assert len(phone) == REQUESTS and all(a["ok"] for a in phone)
    assert sum(1 for h in https if h["client"] == ips["phone"]) == REQUESTS

    # the clients' own view of the tests: the first six connections of each are the tests, in turn
    for mode in gwlab.MODES:
        att = truth[mode]["attempts"]
        first = ["accepted" if a["ok"] else "refused" for a in att[:6]]
        assert first == [EXPECTED[mode][t] for t in TESTS], (mode, att[:6])
        # and every request succeeded in the end (the validating one through passthrough)
        assert sorted({a["request"] for a in att if a["ok"]}) == list(range(REQUESTS)), mode
        assert sum(not a["ok"] for a in att) == sum(v == "refused" for v in EXPECTED[mode].values()), mode
    assert truth["nocheck"]["attempts"][5]["tls_version"] in ("TLSv1", "TLSv1.1")
    # passthrough is untouched: the validating device's successes all saw the real server's certificate
    assert {a["peer_sha256"] for a in truth["validating"]["attempts"] if a["ok"]} == {real}
    # the others' successes: a forged certificate (intercepted, so decrypted) or, while the tests'
    # outcomes were still awaited, the real one (passed through)
    forged = {m: [a for a in truth[m]["attempts"] if a["ok"] and a["peer_sha256"] != real] for m in MODES}

    argv = [TAPAUDIT, "assess", "--db", str(tmp_path / "db-main")]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    store = open_store(str(tmp_path / "db-main"))
    try:
        found = {(f["device_mac"], f["rule_id"], f["severity"]) for f in queries.findings(store)
                 if f["rule_id"].endswith(("-MITM", "-OLDTLS"))}  # fmt: skip
        rows = store.query("SELECT * FROM {db}.tls_tests ORDER BY ts_ns")
        flows = {int(f["flow_id"]): f for f in queries.flows(store, limit=100_000)}
        obs = {m: queries.observations(store, None, macs[m], limit=10_000) for m in gwlab.MODES}
        measures = {m: queries.measures(store, None, macs[m]) for m in gwlab.MODES}
    finally:
        store.close()
    # the matrix in the store: exactly 6 tests x 3 devices, each outcome as the client saw it
    got = {(r["device_mac"], r["server_name"], r["test"]): r["outcome"] for r in rows}
    want = {(macs[m], gwlab.HTTPS_HOST, t): o for m in gwlab.MODES for t, o in EXPECTED[m].items()}
    assert len(rows) == len(want) == 18 and got == want
    for r in rows:  # evidence: each row names the tap's flow of that very connection
        f = flows[int(r["flow_id"])]
        assert (f["device_mac"], f["remote_port"], int(f["src_port"])) == (
            r["device_mac"],
            443,
            int(r["client_port"]),
        )
    # the non-validating devices' personal data inside TLS: read through the interception, labelled so
    for m in ("nocheck", "nohost"):
        loc = [o for o in obs[m] if o["data_type"] == "location"]
        assert len(loc) == len(forged[m]) >= REQUESTS - 2, (
            m,
            [int(o["ts_ns"]) / 1e9 for o in loc],
            [(a["ts"], a["tls_version"]) for a in forged[m]],
        )
        assert {int(o["decimals"]) for o in loc} == {6} and {o["plaintext"] for o in loc} == {"tls-intercept"}
        gap = [float(x["median_gap_ns"]) / 1e9 for x in measures[m] if x["data_type"] == "location"]
        assert len(gap) == 1 and abs(gap[0] - PERIOD) < 0.4, (m, gap)
    assert not [o for o in obs["validating"] if o["data_type"] == "location"]  # passed through: unread
    # the findings, in every pack: a forged certificate accepted fails, TLS 1.1 accepted is high
    packs = ("ETSI-5.5", "EN18031-SCM", "GBT-04", "CN25-TLS")
    want_findings = {(macs["nocheck"], f"{p}-MITM", "fail") for p in packs}
    want_findings |= {(macs["nocheck"], f"{p}-OLDTLS", "high") for p in packs}
    want_findings |= {(macs["nohost"], f"{p}-MITM", "fail") for p in packs}
    assert found == want_findings
    # the report's matrix, per device: one row for the server name, each test's outcome as above
    for m in MODES:
        md = tmp_path / f"report-{m}.md"
        argv = [
            TAPAUDIT,
            "report",
            "--db",
            str(tmp_path / "db-main"),
            "--device",
            macs[m],
            "-f",
            "md",
            "-o",
            str(md),
        ]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        text = md.read_text()
        assert "Certificate-validation tests" in text
        # the matrix's own rows: those under its heading (other tables, the unreadable
        # destinations' for one, start with the same server name)
        section = text.split("Certificate-validation tests", 1)[1].split("\n#", 1)[0]
        (line,) = [ln for ln in section.splitlines() if ln.startswith(f"| {gwlab.HTTPS_HOST} |")]
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells == [gwlab.HTTPS_HOST, *(EXPECTED[m][t] for t in TESTS), "6"], (m, line)
    print(f"\nintercept: {st['intercept']}; tls_tests rows {len(rows)}; "
          f"nohost location reports {len(loc)} every {gap[0]:.2f} s (decimals 6)")  # fmt: skip


def test_rules_are_gone_after_sigkill_and_a_new_start(tmp_path: Path) -> None:
    root_before = _nft(None)
    with gwlab.gateway_lab("ik") as lab:
        _bench(lab, tmp_path / "bench.yaml")
        before = _nft(lab)
        proc = _start(lab, tmp_path, "a")
        proc.kill()  # no handler runs: the rules stay behind
        proc.wait()
        left = _nft(lab)
        proc = _start(lab, tmp_path, "b")
        again = _nft(lab)
        _st, errs = _stop(proc)
        after = _nft(lab)
    assert TABLE in left and again.count(TABLE) == 1
    assert "removed the redirect rules a stopped interceptor left" in errs
    assert after == before and "tapaudit" not in after
    assert _nft(None) == root_before
