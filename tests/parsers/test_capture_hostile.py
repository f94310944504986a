"""Capture readers against hostile input (issue 17): every length checked, timestamps bounded,
memory bounded, decompression bounded, broken compressed streams reported, special files refused,
and the file's sha256 taken from exactly the bytes read."""

from __future__ import annotations

import bz2
import hashlib
import lzma
import os
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from parsers import capture_write as cw
from parsers.capture import (
    MAX_INTERFACES,
    MAX_SECRETS,
    TS_MAX,
    CaptureError,
    LimitError,
    Limits,
    ReadStats,
    read_batches,
    read_pcap,
    sniff_format,
)
from parsers.capture_file import RATIO_FLOOR, parse_size
from tests.support import hostile
from tests.support.paths import ROOT, shared_path

S = 1_000_000_000
US = 1_000


def _read(path: Path, limits: Limits | None = None) -> tuple[list[tuple[int, int]], ReadStats]:
    """(timestamp, frame number) of every packet, and the stats."""
    st = ReadStats()
    out = [
        (ts, hostile.ip_id(data))
        for batch in read_batches(str(path), st, limits)
        for ts, _lt, _o, data in batch
    ]
    return out, st


# ---- timestamps ----------------------------------------------------------------------------------


def test_negative_tsoffset_keeps_packets_at_the_latest_good_time(tmp_path: Path) -> None:
    """if_tsoffset -100 s on packets 5 s after the epoch: before 1970, out of range. The packets are
    kept, each counted, with the latest good timestamp before it (none: 0)."""
    p = tmp_path / "neg.pcapng"
    p.write_bytes(hostile.pcapng(hostile.idb(6, tsoffset=-100), [5 * S // US + i for i in range(4)]))
    got, st = _read(p)
    assert [n for _ts, n in got] == [0, 1, 2, 3]
    assert [ts for ts, _n in got] == [0, 0, 0, 0]
    assert st.bad_timestamp == 4 and not st.truncated
    assert st.decode_counts() == {"bad_timestamp": 4}


def test_offset_that_lands_in_range_is_good(tmp_path: Path) -> None:
    """A legal negative if_tsoffset that leaves the time after 1970 is applied, not counted."""
    p = tmp_path / "negok.pcapng"
    p.write_bytes(hostile.pcapng(hostile.idb(6, tsoffset=-100), [(200 * S + i * S) // US for i in range(3)]))
    got, st = _read(p)
    assert [ts for ts, _n in got] == [100 * S, 101 * S, 102 * S]
    assert st.bad_timestamp == 0


@pytest.mark.parametrize(("tsresol", "bad_raw"), [(0, 1 << 40), (9, (1 << 64) - 1), (6, 1 << 60)])
def test_timestamps_past_the_range_take_the_latest_good_one(
    tmp_path: Path, tsresol: int, bad_raw: int
) -> None:
    """Seconds, nanoseconds and microseconds whose value in ns passes 2^63-1: the bad packets
    (1 and 3) are kept with the timestamp of the packet before them, in order."""
    unit = 10 ** (9 - tsresol)
    good = [1_700_000_000 * S // unit + i for i in range(5)]
    raw = [good[0], bad_raw, good[2], bad_raw, good[4]]
    assert bad_raw * unit > TS_MAX
    p = tmp_path / "far.pcapng"
    p.write_bytes(hostile.pcapng(hostile.idb(tsresol), raw))
    got, st = _read(p)
    want = [g * unit for g in good]
    assert got == [(want[0], 0), (want[0], 1), (want[2], 2), (want[2], 3), (want[4], 4)]
    assert st.bad_timestamp == 2
    assert 0 <= st.first_ns <= st.last_ns <= TS_MAX


def test_the_largest_good_timestamp_is_kept(tmp_path: Path) -> None:
    p = tmp_path / "edge.pcapng"
    p.write_bytes(hostile.pcapng(hostile.idb(9), [TS_MAX, TS_MAX + 1]))
    got, st = _read(p)
    assert got == [(TS_MAX, 0), (TS_MAX, 1)] and st.bad_timestamp == 1


# ---- lengths -------------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", ["first", "second"])
def test_interface_options_cut_short_are_counted_and_skipped(tmp_path: Path, cut: str) -> None:
    """Options that run past the IDB: counted, the interface kept with what was read before them
    (``second``: the nanosecond if_tsresol before the cut stands; ``first``: the default µs)."""
    p = tmp_path / "cut.pcapng"
    p.write_bytes(cw.shb_block() + hostile.idb_cut_options(cut) + cw.epb_block(0, 1000, hostile.frame(0)))
    got, st = _read(p)
    assert got == [(1000 if cut == "second" else 1000 * US, 0)]
    assert st.bad_options == 1 and st.decode_counts() == {"bad_interface_options": 1}


def test_interfaces_past_the_cap_are_skipped_with_their_packets(tmp_path: Path) -> None:
    """An IDB bomb: interfaces past MAX_INTERFACES are not kept (memory), their packets skipped."""
    p = tmp_path / "ifaces.pcapng"
    n = MAX_INTERFACES + 10
    p.write_bytes(hostile.interface_bomb(n))
    got, st = _read(p)
    assert got == [(1 * US, 0)]  # the packet of the last interface (n - 1 >= cap) is skipped
    assert st.skipped_blocks == 10 + 1


def test_secrets_past_the_cap_are_counted_not_kept(tmp_path: Path) -> None:
    """Decryption Secrets Blocks past MAX_SECRETS bytes a file: counted in bad_dsb, not kept."""
    p = tmp_path / "dsb.pcapng.gz"
    count = MAX_SECRETS // hostile.BIG + 2
    hostile.write_gz_blocks(p, "dsb", count)
    st = ReadStats()
    kept = 0
    for _batch in read_batches(str(p), st, Limits(max_ratio=0)):  # zeros: far past 200:1
        kept += sum(len(s) for _t, s in st.secrets)
        st.secrets.clear()
    kept += sum(len(s) for _t, s in st.secrets)
    assert kept == (count - 2) * hostile.BIG <= MAX_SECRETS
    assert st.bad_dsb == 2


# ---- memory --------------------------------------------------------------------------------------

# Peak RSS from the process's own memory map (VmHWM): ru_maxrss would carry the parent's peak
# over fork and exec.
_RSS = """
import re, sys
from parsers.capture import Limits, ReadStats, read_batches
st = ReadStats()
for batch in read_batches(sys.argv[1], st, Limits(max_ratio=0)):
    st.secrets.clear()
hwm = re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)
print(st.packets, st.skipped_blocks, hwm)
"""


@pytest.mark.parametrize("kind", ["epb", "spb", "custom", "dsb"])
def test_peak_memory_is_bounded_whatever_the_block_sizes(tmp_path: Path, kind: str) -> None:
    """40 blocks of 16 MiB (640 MiB decompressed from 0.6 MB of gzip): the reader's peak RSS stays
    within a few blocks, far below the file's decompressed size (VmHWM of a fresh process)."""
    p = tmp_path / f"big_{kind}.pcapng.gz"
    hostile.write_gz_blocks(p, kind, 40)
    run = subprocess.run(
        [sys.executable, "-c", _RSS, str(p)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    packets, _skipped, rss_kb = (int(x) for x in run.stdout.split())
    assert packets == (40 if kind in ("epb", "spb") else 0)
    assert rss_kb < 200 * 1024, f"peak RSS {rss_kb // 1024} MiB"


# ---- compressed streams --------------------------------------------------------------------------


def _pcapng_packets(n: int) -> bytes:
    return hostile.pcapng(hostile.idb(6), [1_700_000_000 * 1_000_000 + i for i in range(n)])


def test_bad_gzip_crc_is_truncation_with_every_packet_kept(tmp_path: Path) -> None:
    p = tmp_path / "crc.pcapng.gz"
    p.write_bytes(hostile.bad_crc(hostile.gzip_bytes(_pcapng_packets(50))))
    got, st = _read(p)
    assert [n for _ts, n in got] == list(range(50))
    assert st.truncated and "CRC" in st.error and st.bad_stream == 1


def test_gzip_without_its_trailer_is_truncation(tmp_path: Path) -> None:
    p = tmp_path / "trailer.pcapng.gz"
    p.write_bytes(hostile.gzip_bytes(_pcapng_packets(50))[:-8])
    got, st = _read(p)
    assert [n for _ts, n in got] == list(range(50))
    assert st.truncated and st.bad_stream == 1


def test_gzip_cut_midway_keeps_a_prefix(tmp_path: Path) -> None:
    data = _pcapng_packets(2000)
    gz = hostile.gzip_bytes(data)
    p = tmp_path / "half.pcapng.gz"
    p.write_bytes(gz[: len(gz) // 2])
    got, st = _read(p)
    assert 0 < len(got) < 2000 and [n for _ts, n in got] == list(range(len(got)))
    assert st.truncated and st.bad_stream == 1


def test_deflate_data_zlib_rejects_is_truncation(tmp_path: Path) -> None:
    """Bytes of the deflate stream itself damaged midway (zlib: "invalid distance too far back"
    and the like, which are not OSErrors): the packets before the damage kept, the capture
    marked truncated, never an internal error."""
    clean = hostile.gzip_bytes(_pcapng_packets(4000))
    gz = b""
    for at in range(len(clean) // 2, len(clean) - 64, 7):  # the first damage zlib itself rejects
        gz = clean[:at] + bytes(range(200, 232)) + clean[at + 32 :]
        try:
            zlib.decompress(gz[10:], -15)
        except zlib.error:
            break
    else:
        pytest.fail("no damaged position found")
    p = tmp_path / "deflate.pcapng.gz"
    p.write_bytes(gz)
    got, st = _read(p)
    assert 0 < len(got) < 4000 and [n for _ts, n in got] == list(range(len(got)))
    # truncated where the garbage inflated before zlib's error breaks a block, or at the error
    assert st.truncated and st.error


def test_deflate_data_rejected_at_its_start_is_one_line(tmp_path: Path) -> None:
    """Damage zlib rejects before any output (as the fuzzer's gzip cases found): a CaptureError
    naming a broken gzip stream, not zlib's own exception (an internal error, exit 70)."""
    clean = hostile.gzip_bytes(_pcapng_packets(4000))
    gz = b""
    for at in range(10, 200):
        gz = clean[:at] + bytes(range(200, 232)) + clean[at + 32 :]
        d, out = zlib.decompressobj(-15), b""
        try:
            out = d.decompress(gz[10:], 64)
            d.decompress(d.unconsumed_tail)
        except zlib.error:
            if not out:
                break
    else:
        pytest.fail("no damaged position found")
    p = tmp_path / "head.pcapng.gz"
    p.write_bytes(gz)
    with pytest.raises(CaptureError, match="broken gzip stream"):
        _read(p)


def test_xz_integrity_error_is_truncation(tmp_path: Path) -> None:
    """The xz stream's CRC64 of the block (xz format 1.0.4, 3.4) damaged: reported, packets kept.
    (A stream small enough to come out in one call has no packets before its error: it is refused
    in one line as a broken stream.)"""
    xz = bytearray(lzma.compress(_pcapng_packets(2000), check=lzma.CHECK_CRC64))
    # the stream footer's Backward Size gives the index's size; the check ends where it starts
    (backward,) = struct.unpack_from("<I", xz, len(xz) - 8)
    index_at = len(xz) - 12 - (backward + 1) * 4
    xz[index_at - 1] ^= 0xFF  # the last byte of the block's CRC64
    p = tmp_path / "bad.pcapng.xz"
    p.write_bytes(bytes(xz))
    with pytest.raises(lzma.LZMAError):
        lzma.decompress(bytes(xz))  # the damage is one the standard library reports
    got, st = _read(p)
    # liblzma withholds the output of its last call: the packets before that are kept
    assert [n for _ts, n in got] == list(range(len(got))) and 0 < len(got) <= 2000
    assert st.truncated and st.bad_stream == 1


def test_bzip2_cut_is_truncation(tmp_path: Path) -> None:
    data = bz2.compress(_pcapng_packets(50))
    p = tmp_path / "cut.pcapng.bz2"
    p.write_bytes(data[:-4])
    got, st = _read(p)
    assert [n for _ts, n in got] == list(range(len(got)))
    assert st.truncated and st.bad_stream == 1


def test_a_whole_gzip_is_not_truncated(tmp_path: Path) -> None:
    p = tmp_path / "ok.pcapng.gz"
    p.write_bytes(hostile.gzip_bytes(_pcapng_packets(50)))
    got, st = _read(p)
    assert len(got) == 50 and not st.truncated and st.bad_stream == 0 and st.error == ""


def test_decompressed_size_over_the_limit_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "many.pcapng.gz"
    p.write_bytes(hostile.gzip_bytes(_pcapng_packets(60_000)))  # ~5 MiB out
    with pytest.raises(LimitError, match="more than 1 MiB"):
        _read(p, Limits(max_decompressed=1 << 20))
    got, _st = _read(p, Limits(max_decompressed=64 << 20))
    assert len(got) == 60_000


def test_compression_ratio_bomb_is_refused_by_default(tmp_path: Path) -> None:
    """8 blocks of 16 MiB of zeros: ~1000:1, refused once RATIO_FLOOR is out; with the ratio
    limit off it reads."""
    p = tmp_path / "bomb.pcapng.gz"
    hostile.write_gz_blocks(p, "custom", 8)
    assert 8 * hostile.BIG > RATIO_FLOOR
    assert 8 * hostile.BIG / p.stat().st_size > 200
    with pytest.raises(LimitError, match="200:1"):
        _read(p)
    _got, st = _read(p, Limits(max_ratio=0))
    assert st.skipped_blocks == 8


def test_real_gzip_captures_pass_the_default_limits(tmp_path: Path) -> None:
    src = shared_path("nDPI", "pcap", "443-firefox.pcap")
    p = tmp_path / "ff.pcap.gz"
    p.write_bytes(hostile.gzip_bytes(src.read_bytes()))
    got, st = _read(p)
    assert len(got) == 667 and not st.truncated  # MANIFEST.tsv: 667 packets


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("8GiB", 8 << 30),
        ("8 GiB", 8 << 30),
        ("500MB", 500_000_000),
        ("1m", 1_000_000),
        ("0", 0),
        ("2KiB", 2048),
    ],
)
def test_sizes(text: str, want: int) -> None:
    assert parse_size(text) == want


@pytest.mark.parametrize("text", ["", "big", "-1G", "inf", "1X"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


# ---- special files -------------------------------------------------------------------------------


def test_fifo_without_a_writer_is_refused_at_once(tmp_path: Path) -> None:
    """A FIFO nobody writes to: refused in one line in well under the timeout, never a hang."""
    fifo = tmp_path / "cap.pcap"
    os.mkfifo(fifo)
    code = "import sys\nfrom parsers.capture import read_pcap, CaptureError\ntry:\n    list(read_pcap(sys.argv[1]))\nexcept CaptureError as e:\n    print(e)"  # noqa: E501
    t0 = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert time.monotonic() - t0 < 30
    assert (
        run.stdout.strip()
        == f"{fifo}: is a FIFO (named pipe), not a capture file: save the capture to a file first"
    )


def test_devices_sockets_and_directories_are_refused(tmp_path: Path) -> None:
    sock_path = tmp_path / "s.pcap"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock_path))
    try:
        for path, why in [
            ("/dev/null", "character device"),
            (str(sock_path), "socket"),
            (str(tmp_path), "directory"),
        ]:
            with pytest.raises(CaptureError, match=why):
                sniff_format(path)
            with pytest.raises(CaptureError, match=why):
                list(read_pcap(path))
    finally:
        s.close()


# ---- read once: the sha256 is of the bytes read --------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz", ".cut", ".gzcut"])
def test_sha256_is_of_the_whole_file_as_read(tmp_path: Path, suffix: str) -> None:
    data = shared_path("nDPI", "pcap", "doh.pcapng").read_bytes()
    if "gz" in suffix:
        data = hostile.gzip_bytes(data)
    if "cut" in suffix:
        data = data[: len(data) * 2 // 3]
    p = tmp_path / ("c.pcapng" + (".gz" if "gz" in suffix else ""))
    p.write_bytes(data)
    _got, st = _read(p)
    assert st.sha256 == hashlib.sha256(data).hexdigest()
    assert st.truncated == ("cut" in suffix)


# ---- mutations of real captures ------------------------------------------------------------------

SEEDS = [
    ("nDPI/pcap/doh.pcapng", 120),
    ("nDPI/pcap/avast_securedns.pcapng", 77),
    ("nDPI/pcap/custom_categories.pcapng", 85),
    ("nDPI/pcap/443-curl.pcap", 109),
    ("nDPI/pcap/dns_fragmented.pcap", 66),
]


@pytest.mark.parametrize(("name", "packets"), SEEDS)
def test_mutated_real_captures_read_without_an_exception(tmp_path: Path, name: str, packets: int) -> None:
    """40 deterministic mutants per seed (cut, bit flips, lengths, timestamps, options): each reads
    to its end or fails with CaptureError in its sniff only; timestamps stay in range; a record or
    block whose length overruns the file ends the read as truncation; the sha256 is the file's."""
    data = shared_path(*name.split("/")).read_bytes()
    whole, _st = _read(shared_path(*name.split("/")))
    assert len(whole) == packets  # MANIFEST.tsv's count, the unmutated oracle
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")
    for label, mutant in hostile.mutations(data, seed, 40):
        p = tmp_path / ("m" + Path(name).suffix)
        p.write_bytes(mutant)
        st = ReadStats()
        try:
            n = sum(len(b) for b in read_batches(str(p), st))
        except CaptureError:
            assert label.startswith(("cut", "flip")), label  # a header cut or flipped: not a capture
            continue
        assert n == st.packets <= max(packets, n), label
        assert 0 <= st.first_ns <= st.last_ns <= TS_MAX, label
        assert st.sha256 == hashlib.sha256(mutant).hexdigest(), label
        if label.startswith("cut") and len(mutant) < len(data):
            assert n <= packets, label


def test_a_record_length_past_the_file_is_truncation(tmp_path: Path) -> None:
    """A pcap record and a pcapng block claiming more than remains: read up to them, truncated."""
    pcap = bytearray(cw.pcap_header(1))
    for i in range(3):
        pcap += struct.pack("<IIII", 1, i, 60, 60) + hostile.frame(i).ljust(60, b"\0")
    struct.pack_into("<I", pcap, 24 + 2 * 76 + 8, 10_000)  # the third record's captured length
    p = tmp_path / "long.pcap"
    p.write_bytes(pcap)
    got, st = _read(p)
    assert [n for _ts, n in got] == [0, 1] and st.truncated and "cut short" in st.error
    ng = bytearray(_pcapng_packets(3))
    last = list(hostile.pcapng_blocks(bytes(ng)))[-1][0]
    struct.pack_into("<I", ng, last + 4, 1 << 20)
    p = tmp_path / "long.pcapng"
    p.write_bytes(ng)
    got, st = _read(p)
    assert [n for _ts, n in got] == [0, 1] and st.truncated and "cut short" in st.error
