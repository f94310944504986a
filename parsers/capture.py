"""Streaming readers for classic pcap and pcapng, plain or compressed (gzip, xz, bzip2).

Records are read in fixed-size chunks, so memory does not grow with the file:
a reader holds one chunk (default 4 MiB) plus at most one partial record. The file is
opened once, refused unless it is a regular file, hashed as it is read and, compressed,
bounded in output (``parsers.capture_file``); what a hostile file can make the reader
hold is bounded too (``MAX_RECORD``, ``MAX_INTERFACES``, ``MAX_SECRETS``; issue 17).
Formats follow the libpcap file format (draft-ietf-opsawg-pcap) and pcapng
(draft-ietf-opsawg-pcapng): both byte orders, micro- and nanosecond pcap,
per-interface link type, ``if_tsresol`` and ``if_tsoffset`` in pcapng, EPB,
SPB and the obsolete Packet Block, several sections per file. A pcapng's Decryption
Secrets Blocks (TLS session keys, issue 16) are kept in ``ReadStats.secrets`` for the
caller, which drains them between batches.

Classic pcap also comes in the old variants with longer record headers that Wireshark
reads (wiretap/libpcap.c): Alexey Kuznetsov's "modified" pcap (magic a1b2cd34, 24- or
28-byte records: SuSE 6.3's ss990915 and the later ss991029), and, behind the standard
magic, Red Hat 6.1's ss990417 (24 bytes) and Nokia's (20 bytes). The standard magic does
not say which, so the record header length is chosen as Wireshark chooses it: the first
three records are read as each variant and scored (``parsers.pcap_variants``).

A capture that ends inside a record is read up to its last whole record and
flagged ``truncated``; a record whose header is absurd stops the file the same
way (pcap has no resync marker), and the reason is kept in ``error``; so does a
compressed stream found corrupt or cut. A pcapng timestamp out of range (``TS_MAX``)
keeps its packet with the latest good time, counted in ``bad_timestamp``.

Both formats are read the same way, in batches of about ``BATCH_BYTES`` of records
(one record of up to ``MAX_RECORD`` past it at most) whose frames are memoryviews of
the chunk read (no copy), with precompiled
unpackers; pcapng reads cost about 1.2x pcap reads of the same packets
(``bench/readers.py``). Files are written by ``parsers.capture_write``; which files
one input names is ``parsers.capture_inputs``.
"""

from __future__ import annotations

import io
import itertools
import operator
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, cast

from parsers.capture_file import (
    OPENERS,
    STREAM_ERRORS,
    ZSTD_MAGIC,
    CaptureError,
    HashedFile,
    LimitError,
    Limits,
    codec_of,
)
from parsers.pcap_variants import STANDARD, record_header_length
from parsers.pcapng_iface import Iface, parse_idb, tsresol_units

__all__ = ["CaptureError", "LimitError", "Limits", "Packet", "ReadStats", "read_batches", "read_pcap"]
__all__ += ["tsresol_units"]  # re-exported: the writer converts with the same fraction

CHUNK = 4 << 20
SPILL_MIN = 64 << 10  # a chunk's unread rest at least this long is not copied (``_Chunks``)
# Bounds a batch (and its per-packet objects) to ~256 KiB of records. Its frames are read twice,
# by this reader (their block headers) and then by the flow meter; a batch that fits a core's L2
# cache (512 KiB to 2 MiB on current x86 cores) is still there when the meter reads it: 256 KiB
# cost ~6% less CPU in reading and metering the lab capture than 1 MiB (issue 20), and the more
# frequent hand-overs cost nothing measurable.
BATCH_BYTES = 1 << 18
MAX_RECORD = 1 << 24  # 16 MiB: larger records only come from corrupt headers

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),  # little endian, microseconds
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # nanoseconds
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
# Kuznetsov's modified pcap: microseconds, longer record headers
PCAP_MODIFIED_MAGICS = {b"\x34\xcd\xb2\xa1": "<", b"\xa1\xb2\xcd\x34": ">"}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
SHB_TYPE = 0x0A0D0D0A
DSB_TYPE = 0x0000000A  # Decryption Secrets Block (draft-ietf-opsawg-pcapng 4.7)
_BOM = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}  # the SHB's byte-order magic
# Timestamps a packet may carry: UInt64 ns would hold 2^64-1, but the read side (pandas and
# numpy datetime64[ns] in the dashboard, signed arithmetic on spans) stops at 2^63-1
# (2262-04-11); below 0 is before 1970 (a negative if_tsoffset). Out of range: the packet is kept
# with the latest good timestamp before it (as a Simple Packet Block takes one) and counted.
TS_MAX = (1 << 63) - 1
MAX_INTERFACES = 1 << 16  # per section; each costs a few hundred bytes (an IDB bomb: 20 bytes each)
MAX_SECRETS = 64 << 20  # DSB bytes per file: a key log line is ~200 bytes, so ~300,000 TLS sessions

# (timestamp ns, link type, original length, bytes captured)
# A frame is bytes, or a read-only memoryview into the chunk read (no copy): index it, unpack
# from it, and take bytes() of any part that must outlive the batch.
Frame = bytes | memoryview
Packet = tuple[int, int, int, Frame]


# A classic pcap's record walk handed to the caller (``parsers.partition``: a ``--jobs`` worker that
# keeps only its share and never builds the packets it skips): made once per file from its layout
# (record header length, byte order, timestamp units in ns, link type, largest record) by a
# ``WalkerFactory``, then called for each window of the buffer (buffer, a memoryview of it, start,
# stop, end of the buffer's bytes), it reads the whole records starting before ``stop`` and ending
# by the buffer's end, keeps what it wants, and returns (the position after them, records read,
# their captured bytes, the first's and the last's timestamp), as the reader's own loop would.
Walker = Callable[[bytes, memoryview, int, int, int], tuple[int, int, int, int, int]]
WalkerFactory = Callable[[int, str, int, int, int], Walker]

# A pcapng Decryption Secrets Block's (secrets type, secrets), as ``ReadStats.secrets`` holds it
SecretsBlock = tuple[int, bytes]


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
    # of those, bytes read ahead (up to CHUNK) but not yet handed out in a batch, set at each batch:
    # progress is read_bytes - unparsed, which moves batch by batch, not chunk by chunk (issue 18)
    unparsed: int = 0
    # pcapng Decryption Secrets Blocks read so far, (secrets type, data), for the caller to drain
    # (``PcapSource`` hands them to its ``KeyLog``); a cut or malformed DSB is counted and skipped
    secrets: list[SecretsBlock] = field(default_factory=list)
    bad_dsb: int = 0
    secrets_bytes: int = 0  # DSB bytes kept from the current file (bounded by MAX_SECRETS)
    bad_timestamp: int = 0  # packets whose timestamp was out of range (kept with the latest good one)
    bad_options: int = 0  # interface blocks whose options ran past the block (the rest skipped)
    bad_stream: int = 0  # compressed files whose stream was corrupt or cut (read up to there)
    sha256: str = ""  # the last file read to its end: sha256 of exactly the bytes read

    def decode_counts(self) -> dict[str, int]:
        """The reader's counters of damage met, for a capture's decode stats (the non-zero ones)."""
        counts = {
            "bad_timestamp": self.bad_timestamp,
            "bad_interface_options": self.bad_options,
            "bad_compressed_stream": self.bad_stream,
        }
        return {k: v for k, v in counts.items() if v}

    def account(self, packets: int, nbytes: int, first_ns: int, last_ns: int) -> None:
        """Add what one file yielded (several files share one ReadStats)."""
        self.packets += packets
        self.bytes += nbytes
        if first_ns and (not self.first_ns or first_ns < self.first_ns):
            self.first_ns = first_ns
        self.last_ns = max(self.last_ns, last_ns)


def sniff_format(path: str) -> tuple[str, bool]:
    """Return (``pcap``|``pcapng``, compressed) or raise CaptureError."""
    fmt, codec = _sniff(path)
    return fmt, bool(codec)


def _sniff(path: str) -> tuple[str, str]:
    """(``pcap``|``pcapng``, compression codec or "") or CaptureError."""
    with HashedFile(path) as raw:
        fmt, codec, stream = _sniff_open(raw)
        if stream is not raw:
            stream.close()
    return fmt, codec


def _sniff_open(raw: HashedFile) -> tuple[str, str, HashedFile | io.BufferedIOBase]:
    """The format and codec of an opened file, and the stream its records are read from."""
    path = raw.path
    head = raw.peek(6)
    codec = codec_of(head)
    if head[:4] == ZSTD_MAGIC:
        raise CaptureError(f"{path}: zstd-compressed, which is not read: decompress it first")
    stream: HashedFile | io.BufferedIOBase = raw
    if codec:
        try:
            stream = OPENERS[codec](cast(IO[bytes], raw))
            head = stream.peek(4)[:4]  # type: ignore[attr-defined]
        except STREAM_ERRORS as exc:
            raise CaptureError(f"{path}: broken {codec} stream ({exc})") from None
    head = head[:4]
    if head in PCAP_MAGICS or head in PCAP_MODIFIED_MAGICS:
        return "pcap", codec, stream
    if head == PCAPNG_SHB:
        return "pcapng", codec, stream
    if len(head) < 4:
        raise CaptureError(f"{path}: empty or too short to be a capture")
    raise CaptureError(f"{path}: not a pcap or pcapng capture (magic {head.hex()})")


class _Chunks:
    """A refillable byte window over a stream: ``need(n)`` guarantees n bytes or EOF.

    The window is bytes read from the one open file (or its decompressor): the records parsed
    are the bytes hashed. A compressed stream that breaks is remembered in ``broken`` and read
    as its end; its output is checked against ``limits`` as it grows.

    A record cut by the end of a chunk used to be joined with the whole next chunk: a second copy
    of every byte of the file, into fresh memory (half of a 1M-packet replay's 160k page faults,
    issue 20). Now the window becomes the record's start and just the bytes it lacks, and the rest
    of the chunk read waits in ``spill`` to become the next window as it is, without a copy.
    """

    __slots__ = (
        "_read",
        "broken",
        "buf",
        "eof",
        "fh",
        "limits",
        "out",
        "pos",
        "raw",
        "spill",
        "spill_at",
        "st",
    )

    def __init__(
        self, fh: HashedFile | io.BufferedIOBase, st: ReadStats, raw: HashedFile, limits: Limits | None
    ) -> None:
        self.fh = fh
        self.st = st
        self.raw = raw
        self.limits = limits if fh is not raw else None  # only decompressed output is bounded
        # gzip's read() discards what it decompressed when the stream is cut; read1() keeps it
        # (the xz and bzip2 readers have it too).
        self._read = getattr(fh, "read1", fh.read)
        self.buf = b""
        self.pos = 0
        self.eof = False
        self.out = 0  # bytes out of the stream so far
        self.broken = ""
        self.spill = b""  # bytes read after the window, from ``spill_at`` on
        self.spill_at = 0

    def left(self) -> int:
        """Bytes read and not yet handed out: the rest of the window and the spill."""
        return len(self.buf) - self.pos + len(self.spill) - self.spill_at

    def _more(self, n: int) -> bytes:
        """The next read of the stream (at least ``n`` bytes asked for); b"" at its end."""
        try:
            data = self._read(max(CHUNK, n))
        except LimitError:
            raise
        except CaptureError as exc:  # the file itself could not be read
            data, self.broken = b"", str(exc).removeprefix(f"{self.raw.path}: ")
        except STREAM_ERRORS as exc:  # compressed stream corrupt or cut short: read up to it
            data, self.broken = b"", f"compressed stream corrupt or cut short ({exc})"
        if not data:
            self.eof = True
            return b""
        self.out += len(data)
        self.st.read_bytes += len(data)
        if self.limits is not None:
            self.limits.check(self.raw.path, self.out, self.raw.consumed)
        return data

    def need(self, n: int) -> bool:
        """Make ``buf[pos:pos+n]`` available; False if the stream ends first."""
        have = len(self.buf) - self.pos
        if have >= n:
            return True
        if self.eof:  # (the spill is empty then: the stream's end is read only after it)
            return False
        if not have and self.spill:  # the window was used up: the spill becomes it, uncopied
            self.buf, self.pos = self.spill, self.spill_at
            self.spill, self.spill_at = b"", 0
            return len(self.buf) - self.pos >= n or self.need(n)
        parts: list[bytes | memoryview] = [memoryview(self.buf)[self.pos :]] if have else []
        while have < n:
            if self.spill:
                src, at = self.spill, self.spill_at
                self.spill, self.spill_at = b"", 0
            else:
                src, at = self._more(n - have), 0
                if not src:
                    break
            short = n - have
            if len(src) - at - short >= SPILL_MIN and parts:  # keep the rest for the next window
                parts.append(memoryview(src)[at : at + short])
                self.spill, self.spill_at = src, at + short
                have = n
                break
            parts.append(memoryview(src)[at:] if at else src)
            have += len(src) - at
        self.buf = parts[0] if len(parts) == 1 and type(parts[0]) is bytes else b"".join(parts)
        self.pos = 0
        return have >= n


def read_batches(
    path: str,
    stats: ReadStats | None = None,
    limits: Limits | None = None,
    hashed: bool = True,
    walker: WalkerFactory | None = None,
) -> Iterator[list[Packet]]:
    """Packets of one pcap or pcapng file (plain, .gz, .xz or .bz2), in lists of a buffer's worth.

    Lists rather than one packet at a time: the replay loop then iterates in C. The file is
    opened once; when the batches are read to the end, ``stats.sha256`` is the sha256 of the
    file's bytes as they were read (the same bytes the packets came from). ``limits`` bound a
    compressed file's output (default ``Limits()``); over them, LimitError. ``hashed=False``: not
    hashed, and ``stats.sha256`` is the descriptor's identity (``HashedFile.identity``) instead.
    With ``walker``, a classic pcap's records go to the walker it makes (``Walker``) and each batch
    yielded is empty, after a window of records was walked; pcapng is read as without it.
    """
    st = stats if stats is not None else ReadStats()
    st.sha256 = ""
    st.secrets_bytes = 0
    with HashedFile(path, hashed) as raw:
        fmt, codec, stream = _sniff_open(raw)
        st.format, st.compressed = fmt, bool(codec)
        ch = _Chunks(stream, st, raw, limits if limits is not None else Limits())
        try:
            batches = _pcap_batches(ch, st, walker) if fmt == "pcap" else _pcapng_batches(ch, st)
            yield from batches
            if ch.broken:
                st.truncated = True
                st.error = ch.broken + (f"; {st.error}" if st.error else "")
                st.bad_stream += codec != ""
            st.sha256 = raw.finish()
        finally:
            if stream is not raw:
                stream.close()


def read_pcap(path: str, stats: ReadStats | None = None) -> Iterator[Packet]:
    """Packets of one pcap or pcapng file (plain or compressed), one at a time."""
    return itertools.chain.from_iterable(read_batches(path, stats))


def _pcap_batches(ch: _Chunks, st: ReadStats, walker: WalkerFactory | None = None) -> Iterator[list[Packet]]:
    if not ch.need(24):
        st.truncated, st.error = True, "file header cut short"
        return
    magic = bytes(ch.buf[0:4])
    modified = magic in PCAP_MODIFIED_MAGICS
    order, mult = (PCAP_MODIFIED_MAGICS[magic], 1000) if modified else PCAP_MAGICS[magic]
    _vmaj, _vmin, _zone, _sig, snaplen, linktype = struct.unpack_from(order + "HHiIII", ch.buf, 4)
    # FCS bits live in the top of the link-type field (pcap spec, LinkType and FCS).
    linktype &= 0x0FFFFFFF
    st.link_types.add(linktype)
    ch.pos = 24
    # nanosecond pcap has no variants; the microsecond magics may hide longer record headers
    hlen = STANDARD if mult == 1 else record_header_length(ch, order, modified, snaplen)
    unpack = struct.Struct(order + "IIII").unpack_from
    limit = max(snaplen, 262144) if 0 < snaplen <= MAX_RECORD else MAX_RECORD
    npk = nbytes = 0
    first = last = 0
    psec, pns = -1, 0
    batch: list[Packet] = []
    walk = walker(hlen, order, mult, linktype, limit) if walker is not None else None
    try:
        while True:
            buf, pos = ch.buf, ch.pos
            size = len(buf)
            stop = min(size, pos + BATCH_BYTES)
            view = memoryview(buf)
            if walk is not None:
                pos, n, nb, w_first, w_last = walk(buf, view, pos, stop, size)
                nbytes += nb
            else:
                append = batch.append
                # the whole records in this window of the buffer, without touching ch; their captured
                # bytes are counted once per window (what the window spans less its record headers)
                start = pos
                while stop - pos >= hlen:
                    sec, frac, incl, orig = unpack(buf, pos)
                    end = pos + hlen + incl
                    if end > size or incl > limit:
                        break
                    if sec != psec:  # the second's start in ns, once per second of capture
                        psec, pns = sec, sec * 1_000_000_000
                    append((pns + frac * mult, linktype, orig, view[pos + hlen : end]))
                    pos = end
                n = len(batch)
                nbytes += pos - start - hlen * n
                if n:
                    w_first, w_last = batch[0][0], batch[-1][0]
            ch.pos = pos
            if n:
                npk += n
                if not first:
                    first = w_first
                last = w_last
                st.unparsed = ch.left()
                yield batch
                batch = []
            if size - pos >= hlen:
                incl = unpack(buf, pos)[2]
                if incl > limit:
                    st.truncated, st.error = True, f"record {npk + 1}: impossible length {incl}"
                    break
                if not ch.need(hlen + incl):
                    st.truncated, st.error = True, f"record {npk + 1} cut short"
                    break
            elif not ch.need(hlen):
                if len(ch.buf) - ch.pos:
                    st.truncated, st.error = True, "record header cut short"
                break
    finally:
        st.account(npk, nbytes, first, last)


_TS = operator.itemgetter(0)
# Unpackers per byte order: block head; an EPB up to its data (type, length, interface,
# timestamp high, low, captured, original); EPB and obsolete Packet Block bodies; a u32.
_NG_STRUCTS = {
    o: tuple(struct.Struct(o + f).unpack_from for f in ("II", "IIIIIII", "IIIII", "HHIIII", "I"))
    for o in "<>"
}


class _Section:
    """pcapng state carried from block to block: the section's byte order and interfaces.

    ``block`` reads any one block; the batch loop in ``_pcapng_batches`` only takes the
    common case itself (an EPB of a known interface, whole in the buffer).
    """

    __slots__ = (
        "epb", "fast", "head", "ifaces", "nbytes", "order", "pb", "scan_max", "scan_n", "st", "u32",
        "whole_epb",
    )  # fmt: skip

    def __init__(self, st: ReadStats) -> None:
        self.st = st
        self.nbytes = 0  # captured bytes of the packets this class appended
        self.new_batch()
        self.start("<")

    def new_batch(self) -> None:
        """The batch was handed out: ``latest`` starts scanning the next one from its start."""
        self.scan_n = self.scan_max = 0

    def latest(self, batch: list[Packet], last: int) -> int:
        """The latest timestamp so far (``last``: before the batch), scanning only the packets
        appended since the previous call: a run of Simple Packet Blocks costs linear time."""
        if len(batch) > self.scan_n:
            self.scan_max = max(self.scan_max, max(map(_TS, batch[self.scan_n :])))
            self.scan_n = len(batch)
        return max(last, self.scan_max)

    def start(self, order: str) -> None:
        """A new section: its byte order; interfaces are per section."""
        self.order = order
        self.head, self.whole_epb, self.epb, self.pb, self.u32 = _NG_STRUCTS[order]
        self.ifaces: list[Iface] = []
        # per interface (link type, ns per unit), or None when a unit is not a whole number of ns
        # or there is an offset: those take the general arithmetic in ``block``
        self.fast: list[tuple[int, int] | None] = []

    def dsb(self, buf: bytes, at: int, size: int) -> None:
        """A Decryption Secrets Block (draft-ietf-opsawg-pcapng 4.7): secrets type u32, secrets
        length u32, the secrets padded to 4 bytes, options. Kept whole in ``ReadStats.secrets``;
        a length that overruns the block is counted in ``bad_dsb`` and the block skipped."""
        if size < 8:
            self.st.bad_dsb += 1
            return
        stype, slen = struct.unpack_from(self.order + "II", buf, at)
        if slen > size - 8 or self.st.secrets_bytes + slen > MAX_SECRETS:
            self.st.bad_dsb += 1
            return
        self.st.secrets_bytes += slen
        self.st.secrets.append((stype, bytes(buf[at + 8 : at + 8 + slen])))

    def block(self, ch: _Chunks, batch: list[Packet], last: int) -> int:
        """Read the block at ``ch.pos``, appending its packet if it has one; its length, or -1 to stop.

        ``last`` is the latest timestamp of the packets before the batch (a Simple Packet Block
        has none of its own and takes the latest one).
        """
        st = self.st
        if not ch.need(12):
            if len(ch.buf) - ch.pos:
                st.truncated, st.error = True, "block header cut short"
            return -1
        buf, pos = ch.buf, ch.pos
        if buf[pos : pos + 4] == PCAPNG_SHB:
            bom = buf[pos + 8 : pos + 12]
            if bom not in _BOM:
                st.truncated, st.error = True, "section header with unknown byte order"
                return -1
            self.start(_BOM[bom])
        btype, blen = self.head(buf, pos)
        if blen < 12 or blen % 4 or blen > MAX_RECORD:
            st.truncated, st.error = True, f"block of impossible length {blen}"
            return -1
        if not ch.need(blen):
            st.truncated, st.error = True, f"block {btype:#x} cut short"
            if btype == DSB_TYPE:
                st.bad_dsb += 1
            return -1
        buf, pos = ch.buf, ch.pos
        ch.pos = pos + blen
        at, size = pos + 8, blen - 12  # the body
        ifaces = self.ifaces
        if btype == 6 or btype == 2:  # Enhanced Packet Block, obsolete Packet Block
            if size < 20:
                st.skipped_blocks += 1
                return blen
            if btype == 6:
                ifid, hi, lo, incl, orig = self.epb(buf, at)
            else:
                ifid, _drops, hi, lo, incl, orig = self.pb(buf, at)
            if ifid >= len(ifaces) or 20 + incl > size:
                st.skipped_blocks += 1
                return blen
            lt, num, den, off = ifaces[ifid]
            ts = ((hi << 32) | lo) * num // den + off
            if ts < 0 or ts > TS_MAX:
                st.bad_timestamp += 1
                ts = self.latest(batch, last)
            data = memoryview(buf)[at + 20 : at + 20 + incl]
        elif btype == 3:  # Simple Packet Block: interface 0, no timestamp
            if not ifaces or size < 4:
                st.skipped_blocks += 1
                return blen
            (orig,) = self.u32(buf, at)
            data = memoryview(buf)[at + 4 : at + 4 + min(orig, size - 4)]
            ts = self.latest(batch, last)
            lt = ifaces[0].linktype
        elif btype == DSB_TYPE:
            self.dsb(buf, at, size)
            return blen
        elif btype == 1:  # Interface Description Block
            if size < 8:
                st.truncated, st.error = True, "interface block too short"
                return -1
            if len(ifaces) >= MAX_INTERFACES:  # its packets are skipped as of an unknown interface
                st.skipped_blocks += 1
                return blen
            iface, cut = parse_idb(bytes(buf[at : at + size]), self.order)
            st.bad_options += cut
            ifaces.append(iface)
            self.fast.append(
                (iface.linktype, iface.mult_num) if iface.mult_den == 1 and not iface.offset_ns else None
            )
            st.link_types.add(iface.linktype)
            return blen
        else:
            if btype != SHB_TYPE:
                st.skipped_blocks += 1
            return blen
        batch.append((ts, lt, orig, data))
        self.nbytes += len(data)
        return blen


def _span(batch: list[Packet], first: int, last: int) -> tuple[int, int]:
    """First non-zero and latest timestamps, the batch included."""
    if not first:
        first = next(filter(None, map(_TS, batch)), 0)
    return first, max(last, max(map(_TS, batch)))


def _pcapng_batches(ch: _Chunks, st: ReadStats) -> Iterator[list[Packet]]:
    """Packets of a pcapng stream in batches of about BATCH_BYTES of blocks.

    Like ``_pcap_batches``: the frames are memoryviews of the buffer (no copy), EPBs are
    unpacked with one precompiled struct each, and the loop over a run of EPBs touches
    only locals. Any other block, or one cut by the buffer's end, goes to ``_Section.block``.
    """
    sec = _Section(st)
    npk = nbytes = first = last = 0
    batch: list[Packet] = []
    taken = 0  # bytes of blocks in the batch so far
    try:
        while True:
            buf, pos = ch.buf, ch.pos
            size = len(buf)
            stop = min(size, pos + BATCH_BYTES - taken)
            start = pos
            view = memoryview(buf)
            unpack, fast = sec.whole_epb, sec.fast
            append = batch.append
            while stop - pos >= 28:
                btype, blen, ifid, hi, lo, incl, orig = unpack(buf, pos)
                end = pos + blen
                if btype != 6 or blen & 3 or not 32 + incl <= blen <= MAX_RECORD or end > size:
                    break
                try:
                    lt, num = fast[ifid]  # None raises TypeError, as meant
                except (IndexError, TypeError):  # an unknown interface, or one ``block`` converts
                    break
                ts = ((hi << 32) | lo) * num
                if ts > TS_MAX:  # out of range: ``block`` counts it
                    break
                nbytes += incl
                at = pos + 28
                append((ts, lt, orig, view[at : at + incl]))
                pos = end
            ch.pos = pos
            taken += pos - start
            if stop - pos < 28 and size - pos >= 28:  # the batch's share of the buffer is read
                if batch:
                    npk += len(batch)
                    first, last = _span(batch, first, last)
                    st.unparsed = ch.left()
                    yield batch
                    batch = []
                    sec.new_batch()
                taken = 0
                continue
            used = sec.block(ch, batch, last)
            if used < 0:
                break
            taken += used
        if batch:
            npk += len(batch)
            first, last = _span(batch, first, last)
            st.unparsed = ch.left()
            yield batch
    finally:
        st.account(npk, nbytes + sec.nbytes, first, last)
