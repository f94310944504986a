"""The live tap mode end to end: `tapaudit capture` on the mirror port of a lab network in namespaces
(tests/support/netlab.py: a device leasing an address by DHCP, resolving names, POSTing its location over
HTTP and calling its vendor over HTTPS), test phases marked with `tapaudit mark` while it runs.

The oracle is what the device recorded it sent (its ground-truth JSON), what the cloud's servers
received, and the tap port's own kernel counters: every packet that crossed the port is either in
the ring files and the store's counts, or reported dropped.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.live.control import ControlError, request
from appliance.store import queries
from appliance.store.backends import Store, open_store
from parsers.capture import read_pcap
from tests.support import netlab

pytestmark = [
    pytest.mark.xdist_group("netns"),
    pytest.mark.root,
]
TAPAUDIT = str(Path(sys.executable).with_name("tapaudit"))


def _wait_for_session(control: str, proc: subprocess.Popen[Any], timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"capture exited: {proc.returncode}\n{proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            return dict(request(control, {"op": "status"}, timeout=2)["session"])
        except ControlError:
            time.sleep(0.2)
    raise AssertionError("the capture session never answered")


def _mark(control: str, phase: str, note: str = "") -> int:
    p = subprocess.run([TAPAUDIT, "mark", phase, "--note", note, "--control", control, "--json"],
                       capture_output=True, text=True, timeout=30)  # fmt: skip
    assert p.returncode == 0, p.stderr
    return int(json.loads(p.stdout)["ts_ns"])


def _stop(proc: subprocess.Popen[Any]) -> dict[str, Any]:
    proc.send_signal(signal.SIGTERM)
    out, errs = proc.communicate(timeout=120)
    assert proc.returncode == 0, errs
    return dict(json.loads(out))


def _wait_posts(lab: Any, n: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        posts = list(lab.posts())
        if len(posts) >= n:
            return posts
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} POSTs reached the cloud")


def _capture(
    lab: Any, tmp: Path, db: str, flush: float = 1.0, extra: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[Any], str]:
    control = str(tmp / "control.sock")
    argv = [TAPAUDIT, "capture", "-i", lab.tap_iface, "--db", db, "--ring", str(tmp / "ring"),
            "--ring-size", "1", "--spool", str(tmp / "spool"), "--control", control, "--flush", str(flush),
            "--json", *extra]  # fmt: skip
    proc = lab.popen(lab.ns_tap, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_session(control, proc)
    return proc, control


def _run_device_with_marks(
    lab: Any, tmp: Path, control: str, duration: float
) -> tuple[dict[str, Any], int, int]:
    """The device's traffic, `idle` marked before it and `feature_on` right after its third POST
    reached the cloud (the next one is a period away: no report straddles the mark)."""
    idle_ts = _mark(control, "idle", "device on the bench, app closed")
    truth_path = tmp / "device.json"
    dev = lab.popen(lab.ns_dev, lab.device_argv(truth_path, duration, 2.0), stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True)  # fmt: skip
    _wait_posts(lab, 3)
    feature_ts = _mark(control, "feature_on", "location sharing switched on")
    _out, errs = dev.communicate(timeout=duration + 90)
    assert dev.returncode == 0, errs
    return json.loads(truth_path.read_text()), idle_ts, feature_ts


def _check_store(store: Store, mac: str, truth: dict[str, Any], feature_ts: int) -> dict[str, Any]:
    caps = queries.captures(store)
    assert len(caps) == 1 and caps[0]["status"] == "complete"
    cid = caps[0]["capture_id"]
    dev = next(d for d in queries.devices(store) if d["mac"] == mac)
    assert truth["dhcp"]["ip"] in dev["ipv4"]
    flows = queries.flows(store, limit=100_000)
    mine = [f for f in flows if f["device_mac"] == mac]
    http = [f for f in mine if f["remote_port"] == 80]
    https = [f for f in mine if f["remote_port"] == 443]
    assert len(http) == len(truth["posts"]) and {f["destination"] for f in http} == {netlab.HTTP_HOST}
    assert len(https) == len(truth["https"]) and {f["destination"] for f in https} == {netlab.HTTPS_HOST}
    assert {f["app"] for f in https} == {"tls"} and {f["app"] for f in http} == {"http"}
    assert any(f["remote_port"] == 53 and f["app"] == "dns" for f in mine)
    assert any(f["remote_port"] == 67 or f["src_port"] == 68 for f in flows)  # the DHCP exchange
    obs = queries.observations(store, None, mac, limit=100_000)
    loc = [o for o in obs if o["data_type"] == "location"]
    imei = [o for o in obs if o["data_type"] == "imei"]
    assert len(loc) == len(imei) == len(truth["posts"])
    assert {int(o["decimals"]) for o in loc} == {6} and {o["domain"] for o in loc} == {netlab.HTTP_HOST}
    # phases: each report carries the phase its packet fell in, as the marks say
    want = {"idle": 0, "feature_on": 0}
    for p in truth["posts"]:
        want["feature_on" if p["ts"] * 1e9 > feature_ts else "idle"] += 1
    assert want["idle"] >= 3 and want["feature_on"] >= 2
    measures = {m["phase"]: m for m in queries.measures(store, None, mac) if m["data_type"] == "location"}
    assert {k: int(m["reports"]) for k, m in measures.items()} == want
    print(f"\nlocation reports per phase {want}, median gap idle "
          f"{float(measures['idle']['median_gap_ns']) / 1e9:.3f} s")  # fmt: skip
    assert abs(float(measures["idle"]["median_gap_ns"]) / 1e9 - 2.0) < 0.5
    spans = queries.phase_spans(store, cid)
    assert [s["phase"] for s in spans] == ["idle", "feature_on"]
    assert int(spans[0]["end_ns"]) == int(spans[1]["start_ns"]) == feature_ts
    return caps[0]


def test_capture_the_lab_link_with_phase_marks(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    with netlab.lab_network("lv") as lab:
        before = lab.counters()
        proc, control = _capture(lab, tmp_path, db)
        truth, _idle_ts, feature_ts = _run_device_with_marks(lab, tmp_path, control, 14.0)
        time.sleep(1.5)  # the last ACKs and FINs reach the port
        after = lab.counters()
        st = _stop(proc)
        received = lab.posts()
    assert [p["body"] for p in received] == [p["body"] for p in truth["posts"]]
    crossed = after.packets - before.packets
    assert crossed > 50
    # every packet that crossed the port: captured, or counted as dropped
    assert st["packets"] + st["dropped"] + st["if_dropped"] == crossed, (st, crossed)
    assert st["dropped"] == 0 and st["if_dropped"] == 0
    assert st["marks"] == 2 and st["spool_pending"] == 0 and st["status"] == "complete"
    # the ring files hold exactly those packets, readable on their own
    ring = sorted((tmp_path / "ring").glob("*.pcapng"))
    assert ring and [str(p) for p in ring] == st["ring_files"]
    assert sum(sum(1 for _ in read_pcap(str(p))) for p in ring) == st["packets"]
    store = open_store(db)
    try:
        cap = _check_store(store, lab.device_mac, truth, feature_ts)
        assert int(cap["packets"]) == st["packets"] and int(cap["flows"]) == st["flows"]
        print(f"\n{crossed} packets crossed the port, {st['packets']} captured, {st['dropped']}+"
              f"{st['if_dropped']} dropped; {len(ring)} ring files; {st['flows']} flows, "
              f"{st['observations']} observations in {st['batches']} batches; "
              f"{len(truth['posts'])} POSTs")  # fmt: skip
    finally:
        store.close()


@contextlib.contextmanager
def _in_netns(name: str) -> Iterator[None]:
    """Run this thread (and the processes it starts) in network namespace ``name``: the server
    the capture writes to listens on the tap namespace's loopback, and so must this test's client."""
    libc = ctypes.CDLL(None, use_errno=True)
    here = os.open("/proc/self/ns/net", os.O_RDONLY)
    there = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(there, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {name}")
        yield
    finally:
        libc.setns(here, CLONE_NEWNET)
        os.close(here)
        os.close(there)


CLONE_NEWNET = 0x40000000


@pytest.mark.server
def test_capture_survives_the_store_going_away(tmp_path: Path) -> None:
    """The real 18.16 server is killed (SIGKILL) while the device reports, and restarted: the capture
    goes on, spools what it cannot write, writes it when the server is back, and the store ends up
    with every flow and observation once."""
    from tests.support.chserver import Server, binary

    if binary() is None:
        pytest.skip("clickhouse-server is not installed (make test installs it)")
    with netlab.lab_network("lf") as lab, _in_netns(lab.ns_tap):
        server = Server(str(tmp_path / "ch"))
        server.start()
        try:
            url = server.url("live_fault")
            proc, control = _capture(lab, tmp_path, url)
            _mark(control, "idle", "before the outage")
            truth_path = tmp_path / "device.json"
            dev = lab.popen(lab.ns_dev, lab.device_argv(truth_path, 24.0, 2.0), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
            _wait_posts(lab, 3)
            assert server.proc is not None
            server.proc.kill()  # the store goes away mid-session
            server.proc.wait()
            killed = time.monotonic()
            _wait_posts(lab, 6)  # the device goes on reporting while the store is down
            status = dict(request(control, {"op": "status"})["session"])
            assert status["spool_pending"] > 0 and status["store_failures"] > 0, status
            feature_ts = _mark(control, "feature_on", "during the outage")
            server.start()  # same ports, same data path
            down = time.monotonic() - killed
            _out, errs = dev.communicate(timeout=120)
            assert dev.returncode == 0, errs
            truth = json.loads(truth_path.read_text())
            time.sleep(1.5)
            st = _stop(proc)
            assert st["spooled_total"] > 0 and st["spool_pending"] == 0 and st["status"] == "complete"
            assert not list((tmp_path / "spool").glob("*.jsonl.gz"))
            store = open_store(url)
            try:
                cap = _check_store(store, lab.device_mac, truth, feature_ts)
                assert int(cap["packets"]) == st["packets"]
                dup_flows = store.query(
                    "SELECT flow_id, segment, count() AS n FROM {db}.flows"
                    " GROUP BY flow_id, segment HAVING n > 1"
                )
                dup_obs = store.query(
                    """SELECT flow_id, ts_ns, data_type, path, count() AS n FROM {db}.observations
                    GROUP BY flow_id, ts_ns, data_type, path HAVING n > 1"""
                )
                assert dup_flows == [] and dup_obs == []
                nflows = store.query("SELECT count() AS n FROM {db}.flows")[0]["n"]
                assert int(nflows) == st["flows"]
                print(f"\nstore down {down:.1f} s; {st['spooled_total']} units spooled, "
                      f"{st['batches']} batches, {st['flows']} flows, {st['observations']} observations, "
                      "none lost or twice")  # fmt: skip
            finally:
                store.close()
        finally:
            server.stop()


def test_a_crash_loses_at_most_the_last_flush(tmp_path: Path) -> None:
    """SIGKILL (a crash, a power cut) in mid-session: what the last flush wrote stays in the store and
    visible, the ring file reads up to its last whole block, and nothing older than a flush is missing."""
    db = str(tmp_path / "db")
    flush = 1.0
    with netlab.lab_network("lk") as lab:
        proc, control = _capture(lab, tmp_path, db, flush=flush)
        _mark(control, "idle")
        dev = lab.popen(lab.ns_dev, lab.device_argv(tmp_path / "device.json", 20.0, 1.0),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while True:  # closed connections are written once they have lingered (5 s) after their FIN
            status = dict(request(control, {"op": "status"})["session"])
            if status["flows"] >= 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        proc.kill()  # no signal handler runs: no last flush, no closing of the ring file
        proc.wait()
        killed_ns = time.time_ns()
        dev.communicate(timeout=120)
    assert status["batches"] >= 3
    ring = sorted((tmp_path / "ring").glob("*.pcapng"))
    in_ring = [p for f in ring for p in read_pcap(str(f))]
    store = open_store(db)
    try:
        caps = queries.captures(store)
        assert len(caps) == 1 and caps[0]["status"] == "live"  # what was flushed stays visible
        stored = int(caps[0]["packets"])
        assert 0 < stored <= len(in_ring)
        # the ring holds every packet the store counted, and more: the last flush is at most one
        # interval (and a packet batch) before the crash
        assert (killed_ns - int(caps[0]["last_ns"])) / 1e9 < 2 * flush + 1.0
        assert in_ring[-1][0] >= int(caps[0]["last_ns"])
        flows = queries.flows(store, limit=100_000)
        assert len(flows) >= status["flows"] >= 3  # every flow the session had written by then
        assert any(o["data_type"] == "location" for o in queries.observations(store, limit=1000))
    finally:
        store.close()


def test_capture_follows_the_devices_growing_key_log(tmp_path: Path) -> None:
    """The device's TLS stack writes its session keys while the capture runs (issue 16): the
    session follows the file, and the store records it (path, sha256 of the whole file, its lines)
    and every HTTPS handshake's ClientHello random, each one a random the key log names; the
    secrets themselves are not stored."""
    db = str(tmp_path / "db")
    keylog = tmp_path / "device.keylog"
    keylog.touch()  # the lab names the file before the device writes to it
    with netlab.lab_network("lk") as lab:
        proc, _control = _capture(lab, tmp_path, db, extra=("--keylog", str(keylog)))
        truth_path = tmp_path / "device.json"
        dev = lab.popen(lab.ns_dev, lab.device_argv(truth_path, 6.0, 2.0, keylog=str(keylog)),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        _out, errs = dev.communicate(timeout=120)
        assert dev.returncode == 0, errs
        time.sleep(1.5)
        st = _stop(proc)
    truth = json.loads(truth_path.read_text())
    assert st["status"] == "complete" and all(h["ok"] for h in truth["https"]) and truth["https"]
    data = keylog.read_bytes()
    lines = [ln for ln in data.decode().splitlines() if ln.strip() and not ln.startswith("#")]
    logged = {ln.split()[1] for ln in lines}
    assert len(logged) == len(truth["https"])  # one handshake per HTTPS request
    store = open_store(db)
    try:
        rows = store.query("SELECT path, sha256, kind, lines, bad_lines FROM {db}.capture_keys")
        randoms = {r["client_random"] for r in store.query(
            "SELECT client_random FROM {db}.tls WHERE sni = %(s)s", {"s": netlab.HTTPS_HOST})}  # fmt: skip
        kept = store.query("SELECT count() AS n FROM {db}.capture_key_lines")
    finally:
        store.close()
    assert [(r["path"], r["sha256"], r["kind"], int(r["lines"]), int(r["bad_lines"])) for r in rows] == [
        (str(keylog), hashlib.sha256(data).hexdigest(), "tls-keylog", len(lines), 0)
    ]
    assert randoms == logged and int(kept[0]["n"]) == 0


@pytest.mark.server
def test_ring_keeps_an_early_findings_evidence(tmp_path: Path) -> None:
    """A tiny ring (10 kB files, 20 kept) and a finding made early in the session (`tapaudit assess`
    from another process, on the real 18.16 server the capture writes to): the ring rotates many
    times after it, and the finding's evidence still exports whole at the end, read from the files
    the session pinned, while the files no finding pinned went down to the ring's 20."""
    from tests.support.chserver import Server, binary

    if binary() is None:
        pytest.skip("clickhouse-server is not installed (make test installs it)")
    with netlab.lab_network("le") as lab, _in_netns(lab.ns_tap):
        server = Server(str(tmp_path / "ch"))
        server.start()
        try:
            url = server.url("live_evidence")
            # 20 files of 10 kB hold about 15 s of the device's traffic; the files of its reports are
            # held (--evidence-hold, 300 s) until an assessment pins them or the session ends
            extra = ("--ring-size", "0.01", "--ring-files", "20")
            proc, control = _capture(lab, tmp_path, url, extra=extra)
            dev = lab.popen(lab.ns_dev, lab.device_argv(tmp_path / "device.json", 240.0, 0.5),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
            store = open_store(url)
            try:
                deadline = time.monotonic() + 90  # until a finding names flows (the first reports' flows
                while not queries.captures(store):  # are written after their FIN and 5 s)
                    assert time.monotonic() < deadline, "the session wrote no captures row"
                    time.sleep(0.3)
                while True:
                    p = subprocess.run([TAPAUDIT, "assess", "--db", url, "--json"], capture_output=True,
                                       text=True, timeout=300, check=False)  # fmt: skip
                    assert p.returncode in (0, 3), p.stderr
                    early = next((f for f in queries.findings(store) if f["flows"]), None)
                    if early is not None:
                        break
                    assert time.monotonic() < deadline, "no finding named flows"
                    time.sleep(1.0)
                fid, flow_ids = str(early["finding_id"]), [int(i) for i in early["flows"]]
            finally:
                store.close()

            def newest_seq(files: list[str]) -> int:
                return max(int(f.rsplit("-", 1)[1].split(".")[0]) for f in files)

            at_finding = newest_seq(dict(request(control, {"op": "status"})["session"])["ring_files"])
            deadline = time.monotonic() + 180  # the ring rotates 30 files more, past its 20
            while (
                newest_seq(dict(request(control, {"op": "status"})["session"])["ring_files"])
                < at_finding + 30
            ):
                assert time.monotonic() < deadline and dev.poll() is None, "the ring did not rotate"
                time.sleep(0.5)
            dev.terminate()
            dev.communicate(timeout=60)
            time.sleep(1.5)
            st = _stop(proc)

            store = open_store(url)
            try:
                flows = queries.flows_by_id(store, st["capture_id"], flow_ids)
                pinned = st["evidence_files"]
                rotating = [f for f in st["ring_files"] if f not in pinned]
                assert (
                    pinned
                    and len(rotating) <= 20
                    and set(st["ring_files"]) == {str(p) for p in (tmp_path / "ring").glob("*.pcapng")}
                )
                seq = newest_seq(st["ring_files"])
                assert seq >= at_finding + 30, seq  # the ring rotated many times after the finding
                # without the pins, the oldest file kept begins after the finding's last packet
                oldest = read_pcap(rotating[0])
                assert next(iter(oldest))[0] > max(int(f["last_ns"]) for f in flows)
                out = tmp_path / "evidence.pcap"
                p = subprocess.run([TAPAUDIT, "evidence", fid, "-o", str(out), "--db", url, "--json"],
                                   capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
                assert p.returncode == 0, p.stderr
                doc = json.loads(p.stdout)
                assert doc["complete"], [(f["flow_id"], f["pkts"], f["matched"]) for f in doc["flows"]]
                assert doc["packets"] == sum(int(f["pkts_up"]) + int(f["pkts_down"]) for f in flows)
                assert sum(1 for _ in read_pcap(str(out))) == doc["packets"]
                print(f"\nfinding {fid[:12]}: {len(flow_ids)} flows, {doc['packets']} packets exported from "
                      f"{len(pinned)} pinned ring files; {seq - at_finding} ring files written after it, "
                      f"{seq} in all, {len(rotating)} kept")  # fmt: skip
            finally:
                store.close()
        finally:
            server.stop()
