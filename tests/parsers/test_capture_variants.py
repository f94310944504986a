"""The old pcap variants (24-, 20- and 28-byte record headers) and .xz/.bz2 captures.

The variants are written by the committed generator (tests/support/capwriter.py) and also by
Wireshark's own writer (editcap -F), and read back against the packets they were made from;
capinfos must name the variant the generator meant, and tshark read the same packets.
"""

from __future__ import annotations

import bz2
import lzma
import random
import subprocess
from pathlib import Path

import pytest

from parsers.capture import CaptureError, ReadStats, read_pcap
from parsers.capture_inputs import expand_inputs
from tests.support.capwriter import PCAP_VARIANTS, pcap_bytes, variant_pcap_bytes
from tests.support.paths import shared_path

T0 = 1_700_000_000_123_456_000
CAPINFOS_TYPE = {
    "rh6_1": "RedHat 6.1 tcpdump - pcap",
    "nokia": "Nokia tcpdump - pcap",
    "modified": "Modified tcpdump - pcap",
    "suse6_3": "SuSE 6.3 tcpdump - pcap",
}
EDITCAP_FORMAT = {"rh6_1": "rh6_1pcap", "nokia": "nokiapcap", "modified": "modpcap", "suse6_3": "suse6_3pcap"}


def packets(n: int = 40, seed: int = 7) -> list[tuple[int, bytes]]:
    """Frames of random lengths and bytes (no header of one variant looks like another's)."""
    rnd = random.Random(seed)
    return [(T0 + i * 1_234_000, rnd.randbytes(rnd.randint(60, 1500))) for i in range(n)]


def read_all(path: Path) -> tuple[list[tuple[int, bytes]], ReadStats]:
    st = ReadStats()
    return [(ts, bytes(d)) for ts, _lt, _orig, d in read_pcap(str(path), st)], st


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("variant", sorted(PCAP_VARIANTS))
def test_old_variants_read_the_packets_written(tmp_path: Path, variant: str, order: str) -> None:
    want = packets()
    p = tmp_path / f"{variant}.pcap"
    p.write_bytes(variant_pcap_bytes(want, variant, order))
    got, st = read_all(p)
    assert got == want and st.packets == len(want) and not st.truncated


@pytest.mark.parametrize("variant", sorted(PCAP_VARIANTS))
def test_old_variants_compressed_read_the_same(tmp_path: Path, variant: str) -> None:
    """The variant is chosen on the decompressed stream's first records as well."""
    want = packets()
    p = tmp_path / f"{variant}.pcap.xz"
    p.write_bytes(lzma.compress(variant_pcap_bytes(want, variant)))
    assert read_all(p)[0] == want


def test_a_standard_capture_is_never_taken_for_a_variant(tmp_path: Path) -> None:
    """Even when its first records look odd (captured longer than original, as some tools write)."""
    want = packets(5)
    raw = bytearray(pcap_bytes(want))
    raw[24 + 12 : 24 + 16] = (10).to_bytes(4, "little")  # first record: original length 10
    p = tmp_path / "odd.pcap"
    p.write_bytes(bytes(raw))
    got, st = read_all(p)
    assert got == want and not st.truncated


def test_a_variant_cut_inside_a_record_keeps_its_whole_packets(tmp_path: Path) -> None:
    blob = variant_pcap_bytes(packets(), "suse6_3")
    p = tmp_path / "cut.pcap"
    p.write_bytes(blob[: len(blob) - 100])
    got, st = read_all(p)
    assert got == packets()[:-1] and st.truncated and "cut short" in st.error


@pytest.mark.tshark
@pytest.mark.parametrize("variant", sorted(PCAP_VARIANTS))
def test_capinfos_names_the_variant_and_tshark_reads_the_same_packets(tmp_path: Path, variant: str) -> None:
    want = packets(12)
    p = tmp_path / f"{variant}.pcap"
    p.write_bytes(variant_pcap_bytes(want, variant))
    info = subprocess.run(["capinfos", "-t", "-c", str(p)], capture_output=True, text=True, check=True).stdout
    assert f"File type:           {CAPINFOS_TYPE[variant]}" in info
    assert "Number of packets:   12" in info
    rows = subprocess.run(
        ["tshark", "-r", str(p), "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert [tuple(r.split("\t")) for r in rows] == [
        (f"{ts // 10**9}.{ts % 10**9:09d}", str(len(d))) for ts, d in want
    ]
    # the bytes: Wireshark's writer turns the variant into a standard pcap of the same frames
    std = tmp_path / "standard.pcap"
    subprocess.run(["editcap", "-F", "pcap", str(p), str(std)], check=True)
    assert read_all(std)[0] == want == read_all(p)[0]


@pytest.mark.tshark
@pytest.mark.parametrize("variant", sorted(PCAP_VARIANTS))
def test_wiresharks_own_writer_of_each_variant_reads_back(tmp_path: Path, variant: str) -> None:
    """editcap rewrites a real capture in the variant; the same packets come back."""
    src = shared_path("nDPI", "pcap", "dtls.pcap")
    out = tmp_path / f"{variant}.pcap"
    subprocess.run(["editcap", "-F", EDITCAP_FORMAT[variant], str(src), str(out)], check=True)
    want = [(ts // 1000 * 1000, d) for ts, d in read_all(src)[0]]  # the variants keep microseconds
    got, st = read_all(out)
    assert got == want and len(got) == 24 and not st.truncated


def bzip2_small_blocks(data: bytes) -> bytes:
    return bz2.compress(data, 1)  # 100 kB blocks: bzip2 gives nothing of a block cut short


@pytest.mark.parametrize(("suffix", "compress"), [(".xz", lzma.compress), (".bz2", bzip2_small_blocks)])
def test_xz_and_bzip2_captures_read_like_gzip(tmp_path: Path, suffix: str, compress: object) -> None:
    want = packets(1000)
    raw = pcap_bytes(want)
    p = tmp_path / f"a.pcap{suffix}"
    p.write_bytes(compress(raw))  # type: ignore[operator]
    got, st = read_all(p)
    assert got == want and st.compressed and not st.truncated
    assert expand_inputs(str(tmp_path)) == [str(p)]  # a directory lists them too
    # cut short: the packets before the cut, flagged truncated, never an exception
    cut = tmp_path / f"cut.pcap{suffix}"
    cut.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    got, st = read_all(cut)
    assert st.truncated and 0 < len(got) < len(want) and got == want[: len(got)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xfd7zXZ\x00junk", "broken xz stream"),
        (b"BZh9junk", "broken bzip2 stream"),
        (b"\x28\xb5\x2f\xfd" + b"\0" * 20, "zstd-compressed"),
    ],
)
def test_bad_compressed_input_is_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "x.pcap"
    p.write_bytes(content)
    with pytest.raises(CaptureError, match=message) as err:
        list(read_pcap(str(p)))
    assert "\n" not in str(err.value)
