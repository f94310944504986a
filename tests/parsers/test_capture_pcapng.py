"""The pcapng reader against what was written: random block sequences, cut anywhere, plain and gzip.

The expected packets come from the model that chose the blocks (interfaces per section,
resolutions as exact fractions of a second), not from a reader. Tiny chunk and batch
sizes make every block cross a buffer or batch boundary somewhere.
"""

from __future__ import annotations

import gzip
import os
import struct
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from parsers import capture
from parsers import capture_write as cw

if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "tapaudit-hypothesis")
EXAMPLES = int(os.environ.get("TAPAUDIT_FUZZ_EXAMPLES", "200"))

RESOLUTIONS = [None, 6, 9, 3, 0x80 | 10, 0x80 | 20]
BLOCKS = st.one_of(
    st.tuples(st.just("shb"), st.sampled_from("<>")),
    st.tuples(st.just("idb"), st.sampled_from(RESOLUTIONS), st.sampled_from([1, 101, 113])),
    st.tuples(
        st.just("epb"), st.integers(0, 3), st.integers(0, 2**63), st.binary(max_size=70), st.booleans()
    ),
    st.tuples(st.just("spb"), st.binary(max_size=70)),
    st.tuples(st.just("custom"), st.binary(max_size=24)),
    st.tuples(st.just("bad incl"), st.integers(0, 1), st.binary(max_size=70)),  # skipped
    st.tuples(st.just("bad length"), st.integers(1, 3)),  # stops the file
)


def _unit(tsresol: int | None) -> Fraction:
    """Seconds per timestamp unit (pcapng 4.2: a power of ten, or of two with the top bit)."""
    if tsresol is None:
        return Fraction(1, 10**6)
    if tsresol & 0x80:
        return Fraction(1, 2 ** (tsresol & 0x7F))
    return Fraction(1, 10**tsresol)


def build(first_order: str, blocks: list[tuple[Any, ...]]) -> tuple[bytes, list[tuple[int, list[Any]]]]:
    """The file, and after each block its end offset and the packets (ts, lt, orig, data) so far;
    a block of impossible length ends the list (the reader stops there)."""
    order = first_order
    out = [cw.shb_block(order)]
    ifaces: list[tuple[int, Fraction]] = []
    packets: list[Any] = []
    ends = [(len(out[0]), [])]
    latest = 0
    for kind, *args in blocks:
        if kind == "shb":
            order = args[0]
            ifaces = []
            out.append(cw.shb_block(order))
        elif kind == "idb":
            tsresol, lt = args
            opts = [] if tsresol is None else [(cw.IF_TSRESOL, bytes((tsresol,)))]
            out.append(cw.idb_block(lt, opts=opts, order=order))
            ifaces.append((lt, _unit(tsresol)))
        elif kind == "epb":
            ifid, raw, data, comment = args
            opts = [(cw.OPT_COMMENT, b"a comment")] if comment else []
            out.append(cw.epb_block(ifid, raw, data, len(data) + 4, opts, order))
            if ifid < len(ifaces):
                lt, unit = ifaces[ifid]
                ts = int(raw * unit * 10**9)  # floor: both are non-negative
                latest = max(latest, ts)
                packets.append((ts, lt, len(data) + 4, data))
        elif kind == "spb":
            out.append(cw.spb_block(args[0], order=order))
            if ifaces:
                packets.append((latest, ifaces[0][0], len(args[0]), args[0]))
        elif kind == "bad incl":  # captured length beyond the block: the block is skipped
            ifid, data = args
            raw = bytearray(cw.epb_block(ifid, 0, data, order=order))
            struct.pack_into(order + "I", raw, 20, len(raw) - 32 + 4)
            out.append(bytes(raw))
        elif kind == "bad length":
            raw = bytearray(cw.block(0xBAD, b"abcd", order))
            struct.pack_into(order + "I", raw, 4, len(raw) + args[0])
            out.append(bytes(raw))
            break
        else:
            out.append(cw.block(0xBAD, args[0], order))
        ends.append((ends[-1][0] + len(out[-1]), list(packets)))
    return b"".join(out), ends


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    order=st.sampled_from("<>"),
    blocks=st.lists(BLOCKS, max_size=30),
    cut=st.floats(0, 1),
    gz=st.booleans(),
    sizes=st.sampled_from(
        [(64, 48, 16), (4096, 200, 256), (capture.CHUNK, capture.BATCH_BYTES, capture.SPILL_MIN)]
    ),
)
def test_random_block_sequences_read_as_written(
    order: str, blocks: list[tuple[Any, ...]], cut: float, gz: bool, sizes: tuple[int, int, int]
) -> None:
    blob, ends = build(order, blocks)
    at = max(4, int(len(blob) * cut))  # the SHB's magic stays, so the file is still pcapng
    blob = blob[:at]
    whole = [e for e in ends if e[0] <= at]
    want = whole[-1][1] if whole else []
    stopped = at > ends[-1][0]  # the cut is past the end of the blocks the reader can take
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.pcapng.gz" if gz else "x.pcapng")
        with open(path, "wb") as fh:
            fh.write(gzip.compress(blob) if gz else blob)
        st_ = capture.ReadStats()
        with (
            mock.patch.object(capture, "CHUNK", sizes[0]),
            mock.patch.object(capture, "BATCH_BYTES", sizes[1]),
            mock.patch.object(capture, "SPILL_MIN", sizes[2]),  # the rest of a chunk kept uncopied
        ):
            batches = [
                [(ts, lt, orig, bytes(d)) for ts, lt, orig, d in b] for b in capture.read_batches(path, st_)
            ]
    got = [p for b in batches for p in b]
    assert got == want
    assert all(batches)  # no empty batch is handed out
    cut_inside = at not in {e[0] for e in ends}
    assert st_.truncated == (cut_inside or stopped), st_.error
    assert st_.packets == len(want) and st_.bytes == sum(len(p[3]) for p in want)
    if want:
        assert st_.first_ns == next((p[0] for p in want if p[0]), 0) and st_.last_ns == max(
            p[0] for p in want
        )
