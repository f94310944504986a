"""pcapng Decryption Secrets Blocks: read from captures editcap made, written so tshark decrypts.

The oracle for what a DSB holds is the key log file editcap embedded (``editcap --inject-secrets``
copies it byte for byte); for what our writer lays out, tshark 4.0 decrypting the real Zeek
captures of ../shared/pcaps/tls-decryption with no key log but the DSB, against the requests
tshark itself decrypted with the key log (``*.tshark-http.tsv``).
"""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import pytest

from appliance.ingest.sources import PcapSource
from parsers import capture_write as cw
from parsers.capture import ReadStats, read_batches
from parsers.decrypt.keys import DSB, DSB_TLS
from tests.support.paths import shared_path
from tests.support.tshark import tshark_fields

CAPTURES = ("tls12-decryption", "tls12-stream-keylog")


def _inject(name: str, out: Path) -> tuple[Path, bytes]:
    pcap = shared_path("tls-decryption", f"{name}.pcap")
    keylog = shared_path("tls-decryption", f"{name}.keylog")
    subprocess.run(["editcap", "--inject-secrets", f"tls,{keylog}", str(pcap), str(out)], check=True)
    return pcap, keylog.read_bytes()


def _read(path: Path) -> tuple[ReadStats, int]:
    st = ReadStats()
    n = sum(len(b) for b in read_batches(str(path), st))
    return st, n


@pytest.mark.tshark
@pytest.mark.parametrize("name", CAPTURES)
def test_editcap_dsb_is_read_with_every_packet(tmp_path: Path, name: str) -> None:
    out = tmp_path / f"{name}.pcapng"
    pcap, keylog = _inject(name, out)
    st, n = _read(out)
    _plain, n_plain = _read(pcap)
    assert n == n_plain > 0  # the DSB costs no packet
    assert st.secrets == [(DSB_TLS, keylog)] and st.bad_dsb == 0


@pytest.mark.tshark
def test_source_hands_the_capture_dsb_to_a_key_log(tmp_path: Path) -> None:
    out = tmp_path / "dsb.pcapng"
    _pcap, keylog = _inject("tls12-stream-keylog", out)
    src = PcapSource(str(out))
    assert sum(len(b) for b in src.batches()) > 0
    assert src.keys is not None and not src.stats.secrets  # drained
    rnd = bytes.fromhex(keylog.split()[1].decode())
    got = src.keys.lookup(rnd)
    assert got is not None and got.source == DSB and len(got.master_secret) == 48
    [ks] = src.keys.sources
    assert (ks.kind, ks.path, ks.lines, ks.bad_lines) == (DSB, str(out), 1, 0)


def _packets(path: Path) -> list[tuple[int, int, int, bytes]]:
    return [(ts, lt, orig, bytes(fr)) for b in read_batches(str(path)) for ts, lt, orig, fr in b]


def _pcapng(path: Path, packets: list[tuple[int, int, int, bytes]], dsb_bodies: list[bytes]) -> None:
    """The packets after DSBs of the given bodies (odd ones too), as our writer lays them out."""
    with open(path, "wb") as fh, cw.PcapngWriter(fh) as w:
        for body in dsb_bodies:
            w.write_block(cw.DSB_TYPE, body)
        w.add_interface(packets[0][1], tsresol=9)
        for ts, _lt, orig, data in packets:
            w.write(ts, data, 0, orig)


def test_malformed_dsb_is_counted_and_skipped(tmp_path: Path) -> None:
    pkts = _packets(shared_path("tls-decryption", "tls12-decryption.pcap"))
    head = DSB_TLS.to_bytes(4, "little")
    good = head + (18).to_bytes(4, "little") + b"CLIENT_RANDOM x y\n"
    lying = head + (999).to_bytes(4, "little") + b"abcd"  # secrets longer than the block
    stub = b"\0\0"  # no room for the two header fields
    path = tmp_path / "bad.pcapng"
    _pcapng(path, pkts, [lying, stub, good])
    st, n = _read(path)
    assert n == len(pkts) and not st.truncated
    assert st.bad_dsb == 2 and st.secrets == [(DSB_TLS, b"CLIENT_RANDOM x y\n")]


def test_dsb_cut_by_the_end_of_the_file_is_counted(tmp_path: Path) -> None:
    pkts = _packets(shared_path("tls-decryption", "tls12-decryption.pcap"))
    path = tmp_path / "cut.pcapng"
    _pcapng(path, pkts, [])
    whole = cw.dsb_block(b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n")
    with open(path, "ab") as fh:
        fh.write(whole[: len(whole) - 20])
    st, n = _read(path)
    assert n == len(pkts) and st.truncated and st.bad_dsb == 1 and not st.secrets


def _oracle(name: str) -> list[tuple[str, str]]:
    text = shared_path("tls-decryption", f"{name}.tshark-http.tsv").read_text()
    return [
        (r["http.host"], r["http.request.uri"]) for r in csv.DictReader(io.StringIO(text), delimiter="\t")
    ]


@pytest.mark.tshark
@pytest.mark.parametrize("name", CAPTURES)
def test_tshark_decrypts_with_the_dsb_we_write(tmp_path: Path, name: str) -> None:
    pkts = _packets(shared_path("tls-decryption", f"{name}.pcap"))
    keylog = shared_path("tls-decryption", f"{name}.keylog").read_bytes()
    path = tmp_path / f"{name}.pcapng"
    with open(path, "wb") as fh, cw.PcapngWriter(fh) as w:
        w.write_secrets(keylog)
        w.add_interface(pkts[0][1], tsresol=9)
        for ts, _lt, orig, data in pkts:
            w.write(ts, data, 0, orig)
    rows = tshark_fields(path, "http.request", ["http.host", "http.request.uri"])
    got = [(r["http.host"][0], r["http.request.uri"][0]) for _n, r in sorted(rows.items())]
    assert got == _oracle(name) and len(got) in (1, 16)
