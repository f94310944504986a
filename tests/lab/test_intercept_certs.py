"""The interceptor's CA, test certificates, decisions and rules, checked against OpenSSL and nft.

The oracle for each forged certificate is ``openssl verify`` (OpenSSL's own path validation,
RFC 5280): each test must fail for exactly the reason it is named for, and pass otherwise when the
lab's CA is trusted. The redirect rules are checked by ``nft -c`` (parse and validate, nothing set).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from appliance.intercept import rules
from appliance.intercept.addon import INTERCEPT, Planner, arp_lookup
from appliance.intercept.certs import TESTS, CertError, Forger, load_or_create_ca, load_trusted

NAME = "api.watch.example-imoo.cn"


def _verify(tmp: Path, chain: tuple[bytes, ...], cafile: Path, host: str = NAME) -> str:
    leaf, rest = tmp / "leaf.pem", tmp / "rest.pem"
    leaf.write_bytes(chain[0])
    rest.write_bytes(b"".join(chain[1:]) or chain[0])
    argv = ["openssl", "verify", "-CAfile", str(cafile), "-untrusted", str(rest), "-verify_hostname", host]
    r = subprocess.run([*argv, str(leaf)], capture_output=True, text=True, timeout=30)
    return (r.stdout + r.stderr).strip()


def test_ca_is_made_once_with_a_private_key_only_the_owner_reads(tmp_path: Path) -> None:
    ca = load_or_create_ca(tmp_path / "state")
    again = load_or_create_ca(tmp_path / "state")
    assert ca.sha256 == again.sha256 and len(ca.sha256) == 64
    assert stat.S_IMODE(os.stat(tmp_path / "state" / "mitmproxy-ca.pem").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "state").st_mode) == 0o700
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "mitmproxy-ca.pem").write_text("not a key\n")
    with pytest.raises(CertError, match="not the interceptor's CA"):
        load_or_create_ca(tmp_path / "bad")


def test_each_forged_certificate_fails_for_its_own_reason(tmp_path: Path) -> None:
    ca = load_or_create_ca(tmp_path / "state")
    forger = Forger(ca)
    cafile = ca.path
    got = {t: _verify(tmp_path, forger.cert(t, NAME).chain, cafile) for t in TESTS}
    # with the interceptor's CA trusted (a test phone that installed it), only the named fault remains
    assert got["untrusted-ca"].endswith(": OK") and got["legacy-tls"].endswith(": OK")
    assert "self-signed certificate" in got["self-signed"] or "self signed certificate" in got["self-signed"]
    assert "hostname mismatch" in got["wrong-host"]
    assert "certificate has expired" in got["expired"]
    assert "invalid CA certificate" in got["leaf-as-ca"]
    # trusting another installation's CA (same name, other key): the signature does not verify
    other = load_or_create_ca(tmp_path / "other").path
    assert "certificate signature failure" in _verify(
        tmp_path, forger.cert("untrusted-ca", NAME).chain, other
    )


def test_wrong_host_and_leaf_as_ca_use_the_labs_trusted_certificate(tmp_path: Path) -> None:
    from tests.support.gwlab import _cert, _write

    lab_ca = _cert(["lab CA"], ca=True)
    _write(*lab_ca, tmp_path / "labca.pem")
    _write(*_cert(["other.example"], lab_ca), tmp_path / "o.pem", tmp_path / "o.key")
    trusted = load_trusted(str(tmp_path / "o.pem"), str(tmp_path / "o.key"))
    forger = Forger(load_or_create_ca(tmp_path / "state"), trusted)
    wrong = _verify(tmp_path, forger.cert("wrong-host", NAME).chain, tmp_path / "labca.pem")
    assert "hostname mismatch" in wrong
    assert _verify(
        tmp_path, forger.cert("wrong-host", NAME).chain, tmp_path / "labca.pem", "other.example"
    ).endswith(": OK")
    assert "invalid CA certificate" in _verify(
        tmp_path, forger.cert("leaf-as-ca", NAME).chain, tmp_path / "labca.pem"
    )
    _write(*_cert(["x"]), tmp_path / "x.pem", tmp_path / "x.key")
    with pytest.raises(CertError, match="is not its key"):
        load_trusted(str(tmp_path / "o.pem"), str(tmp_path / "x.key"))


def test_planner_tests_in_turn_then_decrypts_what_was_accepted_or_passes_through() -> None:
    p = Planner("once")
    given = [p.next("m1", "a") for _ in TESTS]
    assert given == [("test", t) for t in TESTS]
    assert p.next("m1", "a") == ("pass", "")  # outcomes still awaited: never break the device
    for t in TESTS:
        p.told("m1", "a", t, "accepted" if t in ("wrong-host", "legacy-tls") else "refused")
    assert p.next("m1", "a") == (INTERCEPT, "wrong-host")
    p.told("m1", "a", INTERCEPT, "refused")  # it stopped accepting: leave it alone
    assert p.next("m1", "a") == ("pass", "")
    for t in TESTS:  # another device that refuses everything: passed through after its tests
        assert p.next("m2", "a") == ("test", t)
        p.told("m2", "a", t, "refused")
    assert p.next("m2", "a") == ("pass", "") and p.next("m1", "b") == ("test", TESTS[0])
    e = Planner("every-connection")
    assert [e.next("m", "a")[1] for _ in range(len(TESTS) + 2)] == [*TESTS, *TESTS[:2]]
    off = Planner("off")
    assert off.next("m", "a") == (INTERCEPT, "untrusted-ca")
    off.told("m", "a", INTERCEPT, "refused")
    assert off.next("m", "a") == ("pass", "")
    with pytest.raises(ValueError, match="--tls-tests"):
        Planner("twice")


def test_arp_lookup_reads_the_neighbour_table(tmp_path: Path) -> None:
    t = tmp_path / "arp"
    t.write_text(
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        "10.78.0.11       0x1         0x2         02:78:aa:bb:cc:00     *        br0\n"
        "10.78.0.12       0x1         0x0         00:00:00:00:00:00     *        br0\n"
    )
    assert arp_lookup("10.78.0.11", str(t)) == "02:78:aa:bb:cc:00"
    assert arp_lookup("10.78.0.12", str(t)) == "" and arp_lookup("10.78.0.99", str(t)) == ""


@pytest.mark.root
def test_nft_accepts_the_rules_and_they_name_only_the_bench_devices() -> None:
    if shutil.which("nft") is None and not os.path.exists("/usr/sbin/nft"):
        pytest.fail("nft is not installed (make test installs nftables)")
    script = rules.ruleset(["02:78:00:00:00:01", "02:78:00:00:00:02"], [443, 8883], 8080, "t")
    assert "elements = { 02:78:00:00:00:01, 02:78:00:00:00:02 }" in script
    assert "tcp th dport { 443, 8883 } redirect to :8080" in script
    r = subprocess.run(["nft", "-c", "-f", "-"], input=script, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    with pytest.raises(rules.RulesError, match="names none"):
        rules.ruleset([], [443], 8080)


def test_refuses_to_start_without_a_bench_naming_devices(tmp_path: Path) -> None:
    """One line and exit 1, before any rule or CA exists: no bench file, a bench file with no device."""
    import sys

    tapaudit = str(Path(sys.executable).with_name("tapaudit"))
    (tmp_path / "empty.yaml").write_text("devices: {}\n")
    for extra, msg in (
        ([], "--bench is required"),
        (["--bench", str(tmp_path / "empty.yaml")], "names no device"),
    ):
        argv = [
            tapaudit,
            "intercept",
            "-i",
            "lo",
            "--db",
            str(tmp_path / "db"),
            "--state-dir",
            str(tmp_path / "s"),
        ]
        r = subprocess.run([*argv, *extra], capture_output=True, text=True, timeout=120)
        assert r.returncode == 1 and msg in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "s").exists()
