"""Rotating pcapng ring: rotation, retention, read-back with our reader and tshark, truncation."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP, Ether
from scapy.layers.inet6 import IPv6

from appliance.live.ring import Ring
from parsers.capture import ReadStats, read_pcap

T0 = 1_700_000_000_123_456_789  # odd nanoseconds, to see they survive
TSHARK = shutil.which("tshark") or "/usr/bin/tshark"
HAVE_TSHARK = os.access(TSHARK, os.X_OK)


def frames(n: int, payload: int = 300) -> list[tuple[int, int, int, bytes]]:
    out = []
    for i in range(n):
        f = bytes(
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / UDP(sport=40000 + i % 1000, dport=9999)
            / (bytes([i % 251]) * (payload + i % 7))
        )
        out.append((T0 + i * 1_000_003, 1, len(f), f))
    return out


def read_ours(path: str) -> tuple[list[tuple[int, int, int, bytes]], ReadStats]:
    st = ReadStats()
    return [(ts, lt, orig, bytes(d)) for ts, lt, orig, d in read_pcap(path, st)], st


def read_tshark(path: str) -> tuple[list[tuple[int, int]], int]:
    """(ts_ns, frame.len) per packet, and tshark's exit code."""
    r = subprocess.run(
        [TSHARK, "-n", "-r", path, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    rows = []
    for line in r.stdout.splitlines():
        t, n = line.split("\t")
        sec, _, frac = t.partition(".")
        rows.append((int(sec) * 1_000_000_000 + int((frac + "000000000")[:9]), int(n)))
    return rows, r.returncode


def ring_files(d: Path) -> list[str]:
    return sorted(str(p) for p in d.iterdir())


@pytest.mark.parametrize("keep", [3, 50])
def test_rotation_retention_and_readback(tmp_path: Path, keep: int) -> None:
    pkts = frames(2000)
    per_file = 0.1  # MB: 2000 * ~370 bytes -> 8 files
    closed: list[str] = []
    ring = Ring(str(tmp_path), per_file, keep, linktype=1, snaplen=65535, iface="tap0")
    ring.on_rotate = closed.append
    for i in range(0, len(pkts), 97):  # uneven batches: rotation happens inside a write
        ring.write(pkts[i : i + 97])
    ring.close()

    total_bytes = sum(32 + len(d) + (-len(d) % 4) for _t, _l, _w, d in pkts)
    rotations = len(closed) + 1  # files ever created
    assert rotations == 8, rotations
    assert total_bytes // 100_000 + 1 == rotations
    assert len(ring.files) == min(keep, rotations)
    assert ring_files(tmp_path) == ring.files  # names sort oldest first
    assert closed[-1] != ring.files[-1] and ring.files[-1] not in closed
    for p in ring.files:
        assert os.path.getsize(p) <= 100_000
        name = os.path.basename(p)
        assert name.startswith("tapaudit-2023111") and name.endswith(".pcapng")

    # the files kept hold exactly the newest packets, in order
    got: list[tuple[int, int, int, bytes]] = []
    for p in ring.files:
        recs, st = read_ours(p)
        assert not st.truncated and st.error == "" and st.skipped_blocks == 0
        assert st.format == "pcapng" and st.link_types == {1}
        got += recs
    assert got == pkts[len(pkts) - len(got) :]
    if keep >= rotations:
        assert len(got) == 2000
    else:
        assert 0 < len(got) < 2000
        # deleted: the oldest files; the first packet kept starts a file
        first_kept = got[0][0]
        assert read_ours(ring.files[0])[0][0][0] == first_kept

    if HAVE_TSHARK:
        for p in ring.files:
            rows, rc = read_tshark(p)
            assert rc == 0
            ours = read_ours(p)[0]
            assert rows == [(ts, wire) for ts, _lt, wire, _d in ours]


def test_shb_idb_options(tmp_path: Path) -> None:
    with Ring(str(tmp_path), 1, 2, linktype=1, snaplen=1514, iface="eth-tap") as ring:
        ring.write(frames(3))
    (p,) = ring.files
    raw = Path(p).read_bytes()
    assert raw[:4] == b"\x0a\x0d\x0d\x0a"
    assert b"eth-tap" in raw
    if HAVE_TSHARK:
        r = subprocess.run(
            [TSHARK, "-r", p, "-T", "fields", "-e", "frame.interface_name"], capture_output=True, text=True
        )
        assert r.stdout.split() == ["eth-tap"] * 3
        r = subprocess.run(["capinfos", "-M", p], capture_output=True, text=True)
        if r.returncode == 0:
            assert "nanoseconds" in r.stdout


def test_truncated_after_flush_reads_every_whole_block(tmp_path: Path) -> None:
    pkts = frames(50)
    ring = Ring(str(tmp_path / "r"), 10, 2, linktype=1, snaplen=65535, iface="tap0")
    ring.write(pkts)
    ring.flush()  # what a power loss after this point leaves on disk
    (p,) = ring.files
    size = os.path.getsize(p)
    ring.close()
    assert os.path.getsize(p) == size  # close adds nothing after a flush
    data = Path(p).read_bytes()

    # block boundaries: SHB and IDB, then one EPB per packet
    ends = []
    pos = 0
    while pos < len(data):
        pos += int.from_bytes(data[pos + 4 : pos + 8], "little")
        ends.append(pos)
    assert len(ends) == 2 + 50 and ends[-1] == len(data)
    epb_ends = ends[2:]

    for k, cut_in in [(0, 5), (17, 1), (17, 31), (48, 100), (49, 40)]:
        start = epb_ends[k - 1] if k else ends[1]
        cut = start + cut_in  # inside EPB number k (0-based)
        assert cut < epb_ends[k]
        q = tmp_path / f"cut{k}_{cut_in}.pcapng"
        q.write_bytes(data[:cut])
        recs, st = read_ours(str(q))
        assert len(recs) == k and recs == pkts[:k]
        assert st.truncated and "cut short" in st.error
        if HAVE_TSHARK:
            rows, _rc = read_tshark(str(q))  # tshark exits non-zero on a cut file
            assert rows == [(ts, wire) for ts, _lt, wire, _d in pkts[:k]]
    # cut exactly on a block boundary: nothing is flagged
    q = tmp_path / "clean.pcapng"
    q.write_bytes(data[: epb_ends[9]])
    recs, st = read_ours(str(q))
    assert recs == pkts[:10] and not st.truncated


def test_flush_fsyncs_and_ring_data_survives_without_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    ring = Ring(str(tmp_path), 10, 2, linktype=1, snaplen=65535, iface="tap0")
    pkts = frames(20)
    ring.write(pkts[:10])
    ring.flush()
    ring.wait_synced()  # fsync runs in the background
    assert synced, "flush must fsync"
    recs, st = read_ours(ring.files[0])  # readable while still open
    assert recs == pkts[:10] and not st.truncated
    ring.write(pkts[10:])
    ring.close()
    assert read_ours(ring.files[0])[0] == pkts


def test_mixed_link_types_and_snapped_wire_len(tmp_path: Path) -> None:
    eth = frames(4)
    raw6 = bytes(IPv6(src="fd00::1", dst="fd00::2") / UDP(dport=5353) / (b"q" * 40))
    pkts = [
        eth[0],
        (T0 + 5, 101, len(raw6), raw6),
        eth[1],
        (T0 + 9, 101, 1500, raw6[:20]),  # truncated by the snap length: wire length kept
        eth[2],
    ]
    with Ring(str(tmp_path), 10, 2, linktype=1, snaplen=65535, iface="tap0") as ring:
        ring.write(pkts)
    recs, st = read_ours(ring.files[0])
    assert recs == pkts
    assert st.link_types == {1, 101}
    if HAVE_TSHARK:
        rows, rc = read_tshark(ring.files[0])
        assert rc == 0 and rows == [(ts, wire) for ts, _lt, wire, _d in pkts]


def test_restart_adopts_existing_files(tmp_path: Path) -> None:
    pkts = frames(600)
    ring = Ring(str(tmp_path), 0.05, 4, linktype=1, snaplen=65535, iface="tap0")
    ring.write(pkts[:300])
    ring.close()
    before = ring.files
    assert len(before) == 3
    ring2 = Ring(str(tmp_path), 0.05, 4, linktype=1, snaplen=65535, iface="tap0")
    assert ring2.files == before
    ring2.write(pkts[300:])
    ring2.close()
    after = ring2.files
    assert len(after) == 4 and ring_files(tmp_path) == after
    seqs = [int(os.path.basename(p).rsplit("-", 1)[1].split(".")[0]) for p in after]
    assert seqs == sorted(seqs) and seqs[-1] == 6  # numbering continues from the old run
    got = []
    for p in after:
        got += read_ours(p)[0]
    assert got == pkts[len(pkts) - len(got) :]
    with pytest.raises(ValueError):
        ring2.write(pkts[:1])


def test_pinned_files_outlive_rotation_within_the_evidence_budget(tmp_path: Path) -> None:
    """A span pinned early (a finding's flow) keeps its files through many rotations, outside the
    count of files kept; a pin past the evidence budget is refused and named, and deletes nothing."""
    pkts = frames(2000)  # ~370 bytes each: 8 files of 0.1 MB
    ring = Ring(str(tmp_path), 0.1, 2, linktype=1, snaplen=65535, iface="tap0", evidence_mb=0.15)
    ring.write(pkts[:200])  # all in the first file
    early = pkts[100:120]
    pinned, refused = ring.pin(early[0][0], early[-1][0])
    assert pinned == [ring.current] and refused == []  # the file being written, counted at full size
    first = ring.current
    for i in range(200, 1500, 97):
        ring.write(pkts[i : min(i + 97, 1500)])
    # a second span later: its file would take the pinned files past 0.15 MB
    late = pkts[1400:1401]
    pinned2, refused2 = ring.pin(late[0][0], late[0][0])
    assert pinned2 == [] and refused2 == [ring.current]
    ring.write(pkts[1500:])
    ring.close()

    assert ring.pinned == [first] and os.path.exists(first)
    rotating = [f for f in ring.files if f != first]
    assert len(rotating) == 2 and ring.files == ring_files(tmp_path) == [first, *rotating]
    # the pinned file holds the early span whole, and the files kept hold the newest packets
    held = read_ours(first)[0]
    assert all(p in held for p in early) and held == pkts[: len(held)]
    newest = [r for f in rotating for r in read_ours(f)[0]]
    assert newest == pkts[len(pkts) - len(newest) :]
    assert int(os.path.basename(ring.files[-1]).split("-")[-1].split(".")[0]) == 8  # rotated 7 times


def test_held_files_wait_for_a_finding_then_rotate(tmp_path: Path) -> None:
    """Files held (their messages carried personal data) outlive rotation until their deadline; one
    pinned meanwhile stays; at the end (``release``) the others rotate as the ring's count says."""
    pkts = frames(2000)
    ring = Ring(str(tmp_path), 0.1, 2, linktype=1, snaplen=65535, iface="tap0", evidence_mb=1.0)
    ring.write(pkts[:200])
    first = ring.current
    assert ring.hold(pkts[10][0], pkts[10][0], time.monotonic() + 3600) == [first]
    ring.write(pkts[200:500])
    second = ring.files[1]
    assert ring.hold(pkts[300][0], pkts[300][0], time.monotonic() - 1) == [second]  # already past
    for i in range(500, 2000, 97):
        ring.write(pkts[i : i + 97])
    assert first in ring.files and second not in ring.files  # held until its deadline, the other rotated
    assert ring.pin(pkts[10][0], pkts[10][0]) == ([first], [])
    ring.close()
    assert ring.release() == [] and ring.pinned == [first] and len(ring.files) == 3

    ring2 = Ring(str(tmp_path / "b"), 0.1, 2, linktype=1, snaplen=65535, iface="tap0", evidence_mb=1.0)
    ring2.write(pkts[:200])
    held = ring2.current
    ring2.hold(pkts[10][0], pkts[10][0], time.monotonic() + 3600)
    for i in range(200, 2000, 97):
        ring2.write(pkts[i : i + 97])
    ring2.close()
    assert held in ring2.files and len(ring2.files) == 3
    assert ring2.release() == [held] and not os.path.exists(held) and len(ring2.files) == 2
