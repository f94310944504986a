"""The reader's byte window (``parsers.capture._Chunks``): whatever the reads return and whatever
the callers ask for, ``need(n)`` shows the stream's next n bytes at ``buf[pos:]``, and keeping the
rest of a read for the next window (``spill``, issue 20) changes nothing but the copies made."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from parsers import capture
from parsers.capture import ReadStats, _Chunks
from parsers.capture_file import HashedFile


class Reads:
    """A stream whose reads return pieces of the sizes given (then whatever is asked)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes, self.at = data, sizes, 0

    def read(self, n: int) -> bytes:
        size = self.sizes.pop(0) if self.sizes else n
        piece = self.data[self.at : self.at + min(n, size)]
        self.at += len(piece)
        return piece


@settings(max_examples=400, deadline=None)
@given(
    size=st.integers(0, 3000),  # a length, not st.binary, which keeps streams to a few dozen bytes
    seed=st.integers(0, 2**32),
    sizes=st.lists(st.integers(1, 700) | st.just(1 << 20), max_size=30),
    steps=st.lists(st.tuples(st.integers(1, 400), st.just(1.0) | st.floats(0, 1)), max_size=60),
    chunk=st.sampled_from([1, 64, 512, 4096]),
    spill_min=st.sampled_from([1, 8, 100, 1 << 30]),
)
def test_need_shows_the_next_bytes_of_the_stream(
    size: int, seed: int, sizes: list[int], steps: list[tuple[int, float]], chunk: int, spill_min: int
) -> None:
    data = random.Random(seed).randbytes(size)
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch.object(capture, "CHUNK", chunk),
        mock.patch.object(capture, "SPILL_MIN", spill_min),
    ):
        path = Path(tmp) / "f"
        path.write_bytes(b"")  # the hashed file the window reports to (nothing is read from it)
        with HashedFile(str(path)) as raw:
            st_ = ReadStats()
            ch = _Chunks(Reads(data, list(sizes)), st_, raw, None)  # type: ignore[arg-type]
            at = 0  # the stream offset of buf[pos]
            for n, used in steps:
                ok = ch.need(n)
                assert ok == (len(data) - at >= n)
                assert bytes(ch.buf[ch.pos : ch.pos + n]) == data[at : at + n]
                assert st_.read_bytes - ch.left() == at  # progress: the bytes handed out, no more
                take = int(min(n, len(data) - at) * used)  # 1.0 often: the window used up
                ch.pos += take
                at += take
