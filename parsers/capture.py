"""Streaming readers for classic pcap and pcapng, plain or gzip-compressed.

Records are read in fixed-size chunks, so memory does not grow with the file:
a reader holds one chunk (default 4 MiB) plus at most one partial record.
Formats follow the libpcap file format (draft-ietf-opsawg-pcap) and pcapng
(draft-ietf-opsawg-pcapng): both byte orders, micro- and nanosecond pcap,
per-interface link type, ``if_tsresol`` and ``if_tsoffset`` in pcapng, EPB,
SPB and the obsolete Packet Block, several sections per file.

A capture that ends inside a record is read up to its last whole record and
flagged ``truncated``; a record whose header is absurd stops the file the same
way (pcap has no resync marker), and the reason is kept in ``error``.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

CHUNK = 4 << 20
RELEASE_BYTES = 32 << 20  # mapped pages given back this many bytes at a time
BATCH_BYTES = 1 << 20  # bounds a batch (and its per-packet objects) to ~1 MB of records
MAX_RECORD = 1 << 24  # 16 MiB: larger records only come from corrupt headers

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),  # little endian, microseconds
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # nanoseconds
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC = b"\x1f\x8b"

# (timestamp ns, link type, original length, bytes captured)
# A frame is bytes, or a read-only memoryview into the mapped file (no copy): index it, unpack
# from it, and take bytes() of any part that must outlive the batch.
Frame = bytes | memoryview
Packet = tuple[int, int, int, Frame]


class CaptureError(Exception):
    """The input is not a capture this reader understands (one-line reason)."""


@dataclass
class ReadStats:
    """What a reader saw; filled while iterating."""

    format: str = ""
    compressed: bool = False
    packets: int = 0
    bytes: int = 0  # captured bytes of all records
    link_types: set[int] = field(default_factory=set)
    truncated: bool = False
    error: str = ""
    first_ns: int = 0
    last_ns: int = 0
    skipped_blocks: int = 0
    read_bytes: int = 0  # file (or decompressed) bytes read so far, for progress

    def account(self, packets: int, nbytes: int, first_ns: int, last_ns: int) -> None:
        """Add what one file yielded (several files share one ReadStats)."""
        self.packets += packets
        self.bytes += nbytes
        if first_ns and (not self.first_ns or first_ns < self.first_ns):
            self.first_ns = first_ns
        self.last_ns = max(self.last_ns, last_ns)


def sniff_format(path: str) -> tuple[str, bool]:
    """Return (``pcap``|``pcapng``, compressed) or raise CaptureError."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            compressed = head[:2] == GZIP_MAGIC
            if compressed:
                try:
                    with gzip.open(path, "rb") as gz:
                        head = gz.read(4)
                except (OSError, EOFError) as exc:
                    raise CaptureError(f"{path}: broken gzip stream ({exc})") from None
    except FileNotFoundError:
        raise CaptureError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CaptureError(f"{path}: is a directory") from None
    except PermissionError:
        raise CaptureError(f"{path}: permission denied") from None
    if head in PCAP_MAGICS:
        return "pcap", compressed
    if head == PCAPNG_SHB:
        return "pcapng", compressed
    if len(head) < 4:
        raise CaptureError(f"{path}: empty or too short to be a capture")
    raise CaptureError(f"{path}: not a pcap or pcapng capture (magic {head.hex()})")


def _open(path: str, compressed: bool) -> BinaryIO:
    if compressed:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb", buffering=0)


class _Chunks:
    """A refillable byte window over a stream: ``need(n)`` guarantees n bytes or EOF."""

    __slots__ = ("_read", "buf", "eof", "fh", "pos", "st")

    def __init__(self, fh: BinaryIO, st: ReadStats) -> None:
        self.fh = fh
        self.st = st
        # gzip's read() discards what it decompressed when the stream is cut; read1() keeps it.
        self._read = getattr(fh, "read1", fh.read)
        self.buf = b""
        self.pos = 0
        self.eof = False

    def need(self, n: int) -> bool:
        """Make ``buf[pos:pos+n]`` available; False if the stream ends first."""
        if len(self.buf) - self.pos >= n:
            return True
        if self.eof:
            return False
        rest = self.buf[self.pos :]
        parts = [rest]
        have = len(rest)
        while have < n:
            try:
                data = self._read(max(CHUNK, n - have))
            except (OSError, EOFError):
                data = b""  # gzip stream cut short: what we have is all there is
            if not data:
                self.eof = True
                break
            parts.append(data)
            have += len(data)
            self.st.read_bytes += len(data)
        self.buf = b"".join(parts)
        self.pos = 0
        return have >= n

    def release(self) -> None:
        """Nothing to give back: the window is replaced as it advances."""


class _Mapped:
    """The whole uncompressed file as one window (mmap): no copies but the packets themselves.

    Pages already read are dropped from the process (``MADV_DONTNEED``), so the
    resident size stays bounded whatever the file size.
    """

    __slots__ = ("buf", "eof", "pos", "released", "st")

    def __init__(self, mm: mmap.mmap, st: ReadStats) -> None:
        self.buf = mm
        self.pos = 0
        self.eof = True
        self.released = 0
        self.st = st
        if hasattr(mmap, "MADV_SEQUENTIAL"):
            mm.madvise(mmap.MADV_SEQUENTIAL)

    def need(self, n: int) -> bool:
        return len(self.buf) - self.pos >= n

    def release(self) -> None:
        upto = self.pos - self.pos % mmap.PAGESIZE
        self.st.read_bytes = self.pos
        if upto - self.released >= RELEASE_BYTES and hasattr(mmap, "MADV_DONTNEED"):
            self.buf.madvise(mmap.MADV_DONTNEED, self.released, upto - self.released)
            self.released = upto


def read_batches(path: str, stats: ReadStats | None = None) -> Iterator[list[Packet]]:
    """Packets of one pcap or pcapng file (plain or .gz), in lists of a buffer's worth.

    Lists rather than one packet at a time: the replay loop then iterates in C.
    """
    st = stats if stats is not None else ReadStats()
    fmt, compressed = sniff_format(path)
    st.format, st.compressed = fmt, compressed
    try:
        fh = _open(path, compressed)
    except OSError as exc:
        raise CaptureError(f"{path}: cannot open ({exc.strerror or exc})") from None
    with fh:
        ch: _Chunks | _Mapped = _Chunks(fh, st)
        mm = None
        if not compressed:
            try:
                mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                ch = _Mapped(mm, st)
            except (OSError, ValueError):  # a pipe or special file: read it as a stream
                mm = None
        try:
            batches = _pcap_batches(ch, st) if fmt == "pcap" else _batched(_pcapng_records(ch, st))
            for batch in batches:
                yield batch
                ch.release()
        finally:
            if mm is not None:
                with contextlib.suppress(BufferError):  # frames still held: the GC unmaps it later
                    mm.close()


def read_pcap(path: str, stats: ReadStats | None = None) -> Iterator[Packet]:
    """Packets of one pcap or pcapng file (plain or .gz), one at a time."""
    return itertools.chain.from_iterable(read_batches(path, stats))


def _batched(records: Iterator[Packet], size: int = 4096) -> Iterator[list[Packet]]:
    while batch := list(itertools.islice(records, size)):
        yield batch


def _pcap_batches(ch: _Chunks | _Mapped, st: ReadStats) -> Iterator[list[Packet]]:
    if not ch.need(24):
        st.truncated, st.error = True, "file header cut short"
        return
    order, mult = PCAP_MAGICS[ch.buf[0:4]]
    _vmaj, _vmin, _zone, _sig, snaplen, linktype = struct.unpack_from(order + "HHiIII", ch.buf, 4)
    # FCS bits live in the top of the link-type field (pcap spec, LinkType and FCS).
    linktype &= 0x0FFFFFFF
    st.link_types.add(linktype)
    ch.pos = 24
    unpack = struct.Struct(order + "IIII").unpack_from
    limit = max(snaplen, 262144) if 0 < snaplen <= MAX_RECORD else MAX_RECORD
    npk = nbytes = 0
    first = last = 0
    batch: list[Packet] = []
    try:
        while True:
            buf, pos = ch.buf, ch.pos
            size = len(buf)
            stop = min(size, pos + BATCH_BYTES)
            view = memoryview(buf)
            append = batch.append
            # the whole records in this window of the buffer, without touching ch
            while stop - pos >= 16:
                sec, frac, incl, orig = unpack(buf, pos)
                end = pos + 16 + incl
                if end > size or incl > limit:
                    break
                nbytes += incl
                append((sec * 1_000_000_000 + frac * mult, linktype, orig, view[pos + 16 : end]))
                pos = end
            ch.pos = pos
            if batch:
                npk += len(batch)
                if not first:
                    first = batch[0][0]
                last = batch[-1][0]
                yield batch
                batch = []
            if size - pos >= 16:
                incl = unpack(buf, pos)[2]
                if incl > limit:
                    st.truncated, st.error = True, f"record {npk + 1}: impossible length {incl}"
                    break
                if not ch.need(16 + incl):
                    st.truncated, st.error = True, f"record {npk + 1} cut short"
                    break
            elif not ch.need(16):
                if len(ch.buf) - ch.pos:
                    st.truncated, st.error = True, "record header cut short"
                break
    finally:
        st.account(npk, nbytes, first, last)


@dataclass
class _Iface:
    linktype: int
    mult_num: int  # ts units -> ns: ns = raw * mult_num // mult_den + offset
    mult_den: int
    offset_ns: int


def tsresol_units(value: int) -> tuple[int, int]:
    """Units of if_tsresol as a fraction of nanoseconds (pcapng 4.2)."""
    if value & 0x80:
        exp = value & 0x7F
        return (10**9, 2**exp) if exp else (10**9, 1)
    exp = value
    if exp <= 9:
        return 10 ** (9 - exp), 1
    return 1, 10 ** (exp - 9)


def _parse_idb(body: bytes, order: str) -> _Iface:
    linktype, _res, _snap = struct.unpack_from(order + "HHI", body, 0)
    num, den, offset = 1000, 1, 0  # default resolution: microseconds
    pos = 8
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, pos)
        pos += 4
        if code == 0:
            break
        val = body[pos : pos + length]
        if code == 9 and length >= 1:
            num, den = tsresol_units(val[0])
        elif code == 14 and length == 8:
            offset = struct.unpack(order + "q", val)[0] * 1_000_000_000
        pos += (length + 3) & ~3
    return _Iface(linktype, num, den, offset)


def _pcapng_records(ch: _Chunks | _Mapped, st: ReadStats) -> Iterator[Packet]:
    order = "<"
    ifaces: list[_Iface] = []
    npk = nbytes = 0
    first = last = 0
    try:
        while True:
            if not ch.need(12):
                if len(ch.buf) - ch.pos:
                    st.truncated, st.error = True, "block header cut short"
                break
            buf, pos = ch.buf, ch.pos
            btype_raw = buf[pos : pos + 4]
            if btype_raw == PCAPNG_SHB:
                bom = buf[pos + 8 : pos + 12]
                if bom == b"\x4d\x3c\x2b\x1a":
                    order = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    order = ">"
                else:
                    st.truncated, st.error = True, "section header with unknown byte order"
                    break
                ifaces = []  # interfaces are per section
            btype, blen = struct.unpack_from(order + "II", buf, pos)
            if blen < 12 or blen % 4 or blen > MAX_RECORD:
                st.truncated, st.error = True, f"block of impossible length {blen}"
                break
            if not ch.need(blen):
                st.truncated, st.error = True, f"block {btype:#x} cut short"
                break
            buf, pos = ch.buf, ch.pos
            ch.pos = pos + blen
            body = buf[pos + 8 : pos + blen - 4]
            if btype == 6:  # Enhanced Packet Block
                if len(body) < 20:
                    st.skipped_blocks += 1
                    continue
                ifid, hi, lo, incl, orig = struct.unpack_from(order + "IIIII", body, 0)
                if ifid >= len(ifaces) or 20 + incl > len(body):
                    st.skipped_blocks += 1
                    continue
                iface = ifaces[ifid]
                raw = (hi << 32) | lo
                ts = raw * iface.mult_num // iface.mult_den + iface.offset_ns
                data = body[20 : 20 + incl]
                linktype = iface.linktype
            elif btype == 3:  # Simple Packet Block: interface 0, no timestamp
                if not ifaces or len(body) < 4:
                    st.skipped_blocks += 1
                    continue
                (orig,) = struct.unpack_from(order + "I", body, 0)
                data = body[4 : 4 + orig]
                ts = last
                linktype = ifaces[0].linktype
            elif btype == 2:  # obsolete Packet Block
                if len(body) < 20:
                    st.skipped_blocks += 1
                    continue
                ifid, _drops, hi, lo, incl, orig = struct.unpack_from(order + "HHIIII", body, 0)
                if ifid >= len(ifaces) or 20 + incl > len(body):
                    st.skipped_blocks += 1
                    continue
                iface = ifaces[ifid]
                ts = ((hi << 32) | lo) * iface.mult_num // iface.mult_den + iface.offset_ns
                data = body[20 : 20 + incl]
                linktype = iface.linktype
            elif btype == 1:  # Interface Description Block
                if len(body) < 8:
                    st.truncated, st.error = True, "interface block too short"
                    break
                iface = _parse_idb(body, order)
                ifaces.append(iface)
                st.link_types.add(iface.linktype)
                continue
            else:
                if btype != 0x0A0D0D0A:
                    st.skipped_blocks += 1
                continue
            npk += 1
            nbytes += len(data)
            if not first:
                first = ts
            last = max(last, ts)
            yield ts, linktype, orig, data
    finally:
        st.account(npk, nbytes, first, last)


CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz", ".gz")


def expand_inputs(path: str) -> list[str]:
    """Files behind one PATH argument: a file, a directory or a glob of rotated files.

    The files of a directory or glob are ordered by their first packet's time, so
    ring-buffer rotations (``cap_00001_2026...pcap``) replay in capture order.
    """
    import glob

    if os.path.isdir(path):
        names = sorted(os.listdir(path))
        files = [
            os.path.join(path, n)
            for n in names
            if n.lower().endswith(CAPTURE_SUFFIXES) and os.path.isfile(os.path.join(path, n))
        ]
        if not files:
            raise CaptureError(f"{path}: directory holds no .pcap/.pcapng/.cap files")
    elif any(c in path for c in "*?["):
        files = sorted(f for f in glob.glob(path) if os.path.isfile(f))
        if not files:
            raise CaptureError(f"{path}: pattern matches no file")
    else:
        if not os.path.exists(path):
            raise CaptureError(f"{path}: no such file")
        return [path]
    keyed = [(first_timestamp(f), f) for f in files]
    return [f for _, f in sorted(keyed)]


def first_timestamp(path: str) -> int:
    """Timestamp of the first packet (ns), or 0 for an empty or unreadable file."""
    try:
        for ts, _lt, _orig, _data in read_pcap(path):
            return ts
    except CaptureError:
        return 0
    return 0
