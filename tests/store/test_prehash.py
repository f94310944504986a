"""The CLI's capture hashing thread (``appliance.ingest.sources.Prehash``, issue 20 point 3): what it
gives is what hashing the file in the replay gives (sha256 of the bytes and the file's identity),
files it was not given are hashed when asked, its errors reach the caller as the one-line errors the
replay would have raised, and the chunked read of ``HashedFile.finish`` hashes every byte whatever
the chunk and whatever was peeked first."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from appliance.ingest.sources import PcapSource, Prehash, hash_and_identity
from parsers.capture import CaptureError
from parsers.capture_file import HashedFile
from tests.support.paths import ROOT

REAL = sorted((ROOT / "pcaps" / "real").glob("*.pcap"))[:3]


def test_prehash_gives_each_file_its_sha256_and_identity() -> None:
    assert len(REAL) == 3
    ahead = Prehash([str(p) for p in REAL])
    for p in reversed(REAL):  # asked in another order than hashed
        digest, ident = ahead.take(str(p))
        assert digest == hashlib.sha256(p.read_bytes()).hexdigest()
        assert (digest, ident) == hash_and_identity(str(p))


def test_a_file_not_given_is_hashed_when_asked(tmp_path: Path) -> None:
    other = tmp_path / "other.pcap"
    other.write_bytes(REAL[0].read_bytes())
    ahead = Prehash([str(REAL[1])])
    assert ahead.take(str(other))[0] == hashlib.sha256(other.read_bytes()).hexdigest()
    src = PcapSource(str(other), prehash=ahead)  # the replay's source takes it the same way
    assert src.capture_id == hashlib.sha256(other.read_bytes()).hexdigest()


def test_an_error_while_hashing_is_raised_by_take_in_one_line(tmp_path: Path) -> None:
    gone = tmp_path / "gone.pcap"
    with pytest.raises(CaptureError) as direct:
        hash_and_identity(str(gone))
    ahead = Prehash([str(gone), str(REAL[0])])
    with pytest.raises(CaptureError) as taken:
        ahead.take(str(gone))
    assert str(taken.value) == str(direct.value) and "\n" not in str(taken.value)
    assert ahead.take(str(REAL[0]))[0] == hashlib.sha256(REAL[0].read_bytes()).hexdigest()  # the next goes on


@pytest.mark.parametrize("chunk", [None, 1, 7, 4096, 1 << 25])
@pytest.mark.parametrize("peeked", [0, 5, 24])
def test_finish_hashes_every_byte_whatever_the_chunk(chunk: int | None, peeked: int) -> None:
    data = REAL[0].read_bytes()
    with HashedFile(str(REAL[0])) as fh:
        assert fh.peek(peeked) == data[:peeked]
        assert fh.finish(chunk) == hashlib.sha256(data).hexdigest()
