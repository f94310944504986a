"""Read once, verify what was read (issue 17): a capture swapped while replay or evidence reads it is
never taken for the file its sha256 names.

A background thread swaps the capture's path between the original and an altered copy (each
``os.replace`` of a fresh hard link, atomic) as fast as it can while exports and replays run.
Every export must hold the original bytes or be refused in one line; every committed replay must
store the packets of the bytes its sha256 names.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from appliance.findings.evidence import EvidenceError, export
from appliance.ingest.replay import ReplayOptions, replay
from appliance.ingest.sources import CaptureChanged, Prehash
from parsers.capture import read_pcap
from tests.support import hostile

PACKETS = 20_000
T0 = 1_772_442_000 * 1_000_000_000
TRIES = 30


def _write(path: Path, packets: int, payload: bytes) -> None:
    """``packets`` datagrams of one flow, each carrying ``payload`` (same length in both copies)."""
    hostile.write_flow(path, packets, payload, T0)


@contextmanager
def _swapping(path: Path, original: Path, altered: Path) -> Iterator[list[int]]:
    """Swap ``path`` between the two files until the block ends; yields the swap count."""
    stop = threading.Event()
    count = [0]

    def run() -> None:
        tmp = path.with_name(".swap")
        while not stop.is_set():
            for src in (altered, original):
                if tmp.exists():
                    tmp.unlink()
                os.link(src, tmp)
                os.replace(tmp, path)
                count[0] += 1

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield count
    finally:
        stop.set()
        t.join()


def test_evidence_never_exports_swapped_bytes_as_verified(tmp_path: Path, store: Any) -> None:
    original, altered = tmp_path / "original.pcap", tmp_path / "altered.pcap"
    _write(original, PACKETS, b"original ")
    _write(altered, PACKETS, b"ALTERED! ")  # same flows, same lengths: only the bytes differ
    frames = {bytes(d) for _ts, _lt, _o, d in read_pcap(str(original))}
    path = tmp_path / "capture.pcap"
    os.link(original, path)
    cid = replay(store, str(path), ReplayOptions()).capture_id
    assert cid == hashlib.sha256(original.read_bytes()).hexdigest()
    fid = "5a4e0000c0ffee00"
    hostile.finding_on_all_flows(store, cid, fid)
    exported = refused = 0
    with _swapping(path, original, altered) as swaps:
        for i in range(TRIES):
            out = tmp_path / f"ev{i}.pcap"
            try:
                res = export(store, fid, str(out))
            except EvidenceError as exc:
                assert "changed since it was replayed" in str(exc) and "\n" not in str(exc)
                assert not out.exists()
                refused += 1
                continue
            got = {bytes(d) for _ts, _lt, _o, d in read_pcap(str(out))}
            assert got == frames, f"try {i}: an export holds bytes of the altered copy"
            assert res.packets == PACKETS
            exported += 1
    assert exported + refused == TRIES and swaps[0] > TRIES
    print(f"evidence race: {exported} exported the original bytes, {refused} refused, {swaps[0]} swaps")


@pytest.mark.parametrize("prehashed", [False, True], ids=["hashed-at-start", "hashed-ahead"])
def test_replay_stores_only_the_packets_of_the_bytes_it_names(
    tmp_path: Path, store: Any, prehashed: bool
) -> None:
    """The altered copy has 1,000 packets fewer: every committed run's packet count (and its flows'
    packets) must be the count of the file its sha256 names. ``hashed-ahead``: the sha256 taken in
    the CLI's thread (``Prehash``) before the replay starts, the path swapped in between."""
    original, altered = tmp_path / "original.pcap", tmp_path / "altered.pcap"
    _write(original, PACKETS, b"original ")
    _write(altered, PACKETS - 1_000, b"original ")
    want = {
        hashlib.sha256(original.read_bytes()).hexdigest(): PACKETS,
        hashlib.sha256(altered.read_bytes()).hexdigest(): PACKETS - 1_000,
    }
    path = tmp_path / "capture.pcap"
    os.link(original, path)
    committed = changed = 0
    with _swapping(path, original, altered) as swaps:
        for _ in range(TRIES):
            try:
                ahead = Prehash([str(path)]) if prehashed else None
                res = replay(store, str(path), ReplayOptions(force=True, prehash=ahead))
            except CaptureChanged as exc:
                assert "changed while it was read" in str(exc)
                changed += 1
                continue
            assert res.packets == want[res.capture_id]
            committed += 1
    rows = store.query("SELECT capture_id, ingest_id, packets, file_sha256 FROM {db}.captures")
    for r in rows:
        assert [r["capture_id"]] == list(r["file_sha256"])
        assert int(r["packets"]) == want[str(r["capture_id"])]
        flows = store.query(
            "SELECT sum(pkts_up + pkts_down) AS n FROM {db}.flows WHERE ingest_id = %(i)s",
            {"i": int(r["ingest_id"])},
        )
        assert int(flows[0]["n"]) == want[str(r["capture_id"])]
    assert committed + changed == TRIES and swaps[0] > TRIES
    print(f"replay race: {committed} committed with matching packets, {changed} refused, {swaps[0]} swaps")
