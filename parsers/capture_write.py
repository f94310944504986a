"""Writers for classic pcap and pcapng: the one place tapaudit lays out capture bytes.

The live ring, evidence export, the lab and benchmark generators and the reader tests all
write through this module, so a capture tapaudit writes is always one that
``parsers.capture`` reads (and Wireshark opens). Formats: libpcap (draft-ietf-opsawg-pcap:
micro- or nanosecond magic, either byte order, any link type and snaplen) and pcapng
(draft-ietf-opsawg-pcapng: SHB, IDB with ``if_name``/``if_tsresol``, EPB with optional
comment and flags, SPB, DSB (TLS session keys, issue 16), or any block type).

Two layers. The block encoders (``shb_block``, ``idb_block``, ``epb_block``, ``spb_block``,
``block``, ``pcap_header``) return bytes with every field given, raw timestamps included,
so reader tests can put blocks together in any order, odd ones too. ``PcapWriter`` and
``PcapngWriter`` stream to a binary file object and take nanosecond timestamps, converted
to each interface's resolution. They keep blocks in memory and hand them to ``fh.write``
whole (on ``flush``, on leaving a ``with`` block, or when ``BUFFER`` bytes are pending), so
a file cut at any point (crash, power loss) ends on a whole block or inside the last one,
and the reader keeps every whole block before the cut. Neither writer opens or closes the
file, nor syncs it: the owner decides when the bytes must be on the disk.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import BinaryIO, Self

from parsers.capture import tsresol_units

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
SHB_TYPE = 0x0A0D0D0A
IDB_TYPE = 1
SPB_TYPE = 3
EPB_TYPE = 6
DSB_TYPE = 0x0000000A  # Decryption Secrets Block (draft-ietf-opsawg-pcapng 4.7)
DSB_TLS = 0x544C534B  # "TLSK": secrets that are NSS key log lines
BYTE_ORDER_MAGIC = 0x1A2B3C4D
SNAPLEN = 262144  # tcpdump's default; the header's promise, not a limit the writer enforces
BUFFER = 1 << 20  # pending bytes that make a writer hand its blocks to the file

# option codes (pcapng 3.5, 4.1, 4.2, 4.3)
OPT_ENDOFOPT = 0
OPT_COMMENT = 1
SHB_USERAPPL = 4
IF_NAME = 2
IF_TSRESOL = 9
EPB_FLAGS = 2

Option = tuple[int, bytes]

_PADS = (b"", b"\0\0\0", b"\0\0", b"\0")  # indexed by length % 4
_U32 = {o: struct.Struct(o + "I").pack for o in "<>"}
_HEAD = {o: struct.Struct(o + "II").pack for o in "<>"}
_OPT = {o: struct.Struct(o + "HH").pack for o in "<>"}
# An EPB up to its packet data: type, length, interface, timestamp high and low, captured, original.
_EPB_HEAD = {o: struct.Struct(o + "IIIIIII").pack for o in "<>"}
_PCAP_REC = {o: struct.Struct(o + "IIII").pack for o in "<>"}


def _check_order(order: str) -> None:
    if order not in ("<", ">"):
        raise ValueError(f"byte order must be '<' or '>', not {order!r}")


def epb_length(caplen: int) -> int:
    """Bytes of an EPB without options holding ``caplen`` bytes (``write_packets`` counts the same inline)."""
    return 32 + caplen + (-caplen & 3)


def options(opts: Sequence[Option], order: str = "<") -> bytes:
    """Encoded options, each padded to 32 bits, closed by opt_endofopt; nothing when there are none."""
    if not opts:
        return b""
    pack = _OPT[order]
    out = [pack(code, len(value)) + value + _PADS[len(value) & 3] for code, value in opts]
    out.append(pack(OPT_ENDOFOPT, 0))
    return b"".join(out)


def block(btype: int, body: bytes, order: str = "<") -> bytes:
    """Any pcapng block: type, total length, body padded to 32 bits, total length again."""
    pad = _PADS[len(body) & 3]
    n = 12 + len(body) + len(pad)
    return _HEAD[order](btype, n) + body + pad + _U32[order](n)


def shb_block(order: str = "<", opts: Sequence[Option] = ()) -> bytes:
    """Section Header Block, version 1.0, section length unknown (-1)."""
    _check_order(order)
    return block(
        SHB_TYPE, struct.pack(order + "IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + options(opts, order), order
    )


def idb_block(linktype: int, snaplen: int = SNAPLEN, opts: Sequence[Option] = (), order: str = "<") -> bytes:
    """Interface Description Block (the link type field is 16 bits wide)."""
    body = struct.pack(order + "HHI", linktype & 0xFFFF, 0, snaplen) + options(opts, order)
    return block(IDB_TYPE, body, order)


def epb_block(
    ifid: int,
    raw_ts: int,
    data: bytes,
    orig: int | None = None,
    opts: Sequence[Option] = (),
    order: str = "<",
) -> bytes:
    """Enhanced Packet Block; ``raw_ts`` is in the interface's units, ``orig`` defaults to len(data)."""
    caplen = len(data)
    wire = caplen if orig is None else orig
    head = struct.pack(order + "IIIII", ifid, raw_ts >> 32, raw_ts & 0xFFFFFFFF, caplen, wire)
    return block(EPB_TYPE, head + data + _PADS[caplen & 3] + options(opts, order), order)


def spb_block(data: bytes, orig: int | None = None, order: str = "<") -> bytes:
    """Simple Packet Block: interface 0, no timestamp, original length then data."""
    return block(SPB_TYPE, _U32[order](len(data) if orig is None else orig) + data, order)


def dsb_block(secrets: bytes, secrets_type: int = DSB_TLS, order: str = "<") -> bytes:
    """Decryption Secrets Block: secrets type, secrets length, the secrets padded to 32 bits (the
    block editcap --inject-secrets writes; readers must meet it before the packets it decrypts)."""
    return block(DSB_TYPE, _HEAD[order](secrets_type, len(secrets)) + secrets, order)


def pcap_header(linktype: int = 1, nano: bool = False, order: str = "<", snaplen: int = SNAPLEN) -> bytes:
    """The 24-byte libpcap file header, version 2.4."""
    _check_order(order)
    magic = PCAP_MAGIC_NS if nano else PCAP_MAGIC_US
    return struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


class _Buffered:
    """Blocks kept in memory and handed to the file whole."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.count = 0  # packets written
        self._parts: list[bytes] = []
        self._pending = 0
        self._written = 0

    @property
    def size(self) -> int:
        """Bytes of the file so far, pending blocks included."""
        return self._written + self._pending

    def flush(self) -> None:
        """Hand every pending block to ``fh.write`` in one call (the file object is not flushed)."""
        if self._parts:
            self.fh.write(b"".join(self._parts))
            self._parts.clear()
            self._written += self._pending
            self._pending = 0

    def _add(self, data: bytes) -> None:
        self._parts.append(data)
        self._pending += len(data)
        if self._pending >= BUFFER:
            self.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


class PcapWriter(_Buffered):
    """Classic pcap to ``fh``: the file header now, a record per ``write``."""

    def __init__(
        self, fh: BinaryIO, linktype: int = 1, *, nano: bool = False, order: str = "<", snaplen: int = SNAPLEN
    ) -> None:
        super().__init__(fh)
        self.nano = nano
        self._add(pcap_header(linktype, nano, order, snaplen))  # checks the byte order
        self._rec = _PCAP_REC[order]

    def write(self, ts_ns: int, data: bytes, orig: int | None = None) -> None:
        """One record; microsecond files drop the sub-microsecond part; ``orig`` is at least len(data)."""
        caplen = len(data)
        sec, frac = divmod(ts_ns, 1_000_000_000)
        if not self.nano:
            frac //= 1000
        parts = self._parts
        parts.append(self._rec(sec, frac, caplen, orig if orig is not None and orig > caplen else caplen))
        parts.append(data)
        self.count += 1
        self._pending += 16 + caplen
        if self._pending >= BUFFER:
            self.flush()

    def write_all(self, packets: Iterable[tuple[int, bytes]]) -> int:
        """Write (ts_ns, frame) pairs; returns how many."""
        n = self.count
        for ts, data in packets:
            self.write(ts, data)
        return self.count - n


class PcapngWriter(_Buffered):
    """pcapng to ``fh``: one section (SHB now), interfaces added as needed, an EPB per packet."""

    def __init__(self, fh: BinaryIO, *, order: str = "<", userappl: str = "") -> None:
        super().__init__(fh)
        _check_order(order)
        self.order = order
        self._epb = _EPB_HEAD[order]
        self._u32 = _U32[order]
        self._scale: list[tuple[int, int]] = []  # per interface: ns -> units is ts * den // num
        self._by_linktype: dict[int, tuple[int, int, int]] = {}  # the first interface of each: id, num, den
        self._template: tuple[int, int | None, str] = (SNAPLEN, None, "")  # the first interface's
        opts = [(SHB_USERAPPL, userappl.encode("utf-8", "replace"))] if userappl else []
        self._add(shb_block(order, opts))

    @property
    def interfaces(self) -> int:
        """Interfaces described so far in this section."""
        return len(self._scale)

    def add_interface(
        self, linktype: int, snaplen: int = SNAPLEN, *, tsresol: int | None = None, name: str = ""
    ) -> int:
        """Describe an interface; returns its id. ``tsresol`` is the if_tsresol byte (6: µs, 9: ns,
        0x80|n: 2^-n s); without it the option is left out and readers assume microseconds."""
        opts: list[Option] = []
        if name:
            opts.append((IF_NAME, name.encode("utf-8", "replace")))
        if tsresol is not None:
            opts.append((IF_TSRESOL, bytes((tsresol,))))
        self._add(idb_block(linktype, snaplen, opts, self.order))
        num, den = tsresol_units(6 if tsresol is None else tsresol)
        ifid = len(self._scale)
        self._scale.append((num, den))
        if not ifid:
            self._template = (snaplen, tsresol, name)
        self._by_linktype.setdefault(linktype, (ifid, num, den))
        return ifid

    def write_packets(
        self, packets: Sequence[tuple[int, int, int, bytes]], start: int = 0, limit: int = 0
    ) -> int:
        """Write packets[start:] as the reader yields them, (ts_ns, link type, original length, data),
        stopping before one that would take the file past ``limit`` bytes (0: no limit) unless the
        file holds no packet yet; returns the index of the first packet not written.

        Each link type goes to the first interface described for it; a link type met first
        here gets an interface like the first one (snaplen, resolution, name). One loop over
        locals, and the blocks are handed to the file at the end (or once ``BUFFER`` is pending):
        this is the live ring's path, which must keep up with the capture.
        """
        parts, epb, u32, pads = self._parts, self._epb, self._u32, _PADS
        by_lt = self._by_linktype
        written = self._written
        pending = self._pending
        count = self.count
        for i in range(start, len(packets)):
            ts, lt, wire, data = packets[i]
            caplen = len(data)
            blen = 32 + caplen + (-caplen & 3)
            if limit and count and written + pending + blen > limit:
                break
            iface = by_lt.get(lt)
            if iface is None:
                self._pending, self.count = pending, count
                snaplen, tsresol, name = self._template
                self.add_interface(lt, snaplen, tsresol=tsresol, name=name)
                iface = by_lt[lt]
                written, pending = self._written, self._pending
            ifid, num, den = iface
            raw = ts if num == den else ts * den // num
            wire = wire if wire > caplen else caplen
            parts.append(epb(EPB_TYPE, blen, ifid, raw >> 32, raw & 0xFFFFFFFF, caplen, wire))
            parts.append(data)
            parts.append(pads[caplen & 3] + u32(blen))
            pending += blen
            count += 1
        else:
            i = len(packets)
        self._pending, self.count = pending, count
        if pending >= BUFFER:
            self.flush()
        return i

    def write(
        self,
        ts_ns: int,
        data: bytes,
        ifid: int = 0,
        orig: int | None = None,
        *,
        comment: str | None = None,
        flags: int | None = None,
    ) -> None:
        """One EPB; the timestamp is converted to the interface's units (rounded down), ``orig``
        is at least len(data); ``comment`` (opt_comment) and ``flags`` (epb_flags) are optional."""
        num, den = self._scale[ifid]
        raw = ts_ns if num == den else ts_ns * den // num
        caplen = len(data)
        wire = orig if orig is not None and orig > caplen else caplen
        if comment is None and flags is None:
            blen = 32 + caplen + (-caplen & 3)
            parts = self._parts
            parts.append(self._epb(EPB_TYPE, blen, ifid, raw >> 32, raw & 0xFFFFFFFF, caplen, wire))
            parts.append(data)
            parts.append(_PADS[caplen & 3] + self._u32(blen))
            self._pending += blen
            self.count += 1
            if self._pending >= BUFFER:
                self.flush()
            return
        opts: list[Option] = []
        if comment is not None:
            opts.append((OPT_COMMENT, comment.encode("utf-8", "replace")))
        if flags is not None:
            opts.append((EPB_FLAGS, self._u32(flags)))
        self.count += 1
        self._add(epb_block(ifid, raw, data, wire, opts, self.order))

    def write_simple(self, data: bytes, orig: int | None = None) -> None:
        """One SPB (interface 0, no timestamp: readers give it the previous packet's)."""
        self.count += 1
        self._add(spb_block(data, orig, self.order))

    def write_secrets(self, secrets: bytes, secrets_type: int = DSB_TLS) -> None:
        """One DSB (TLS key log lines by default); write it before the packets it decrypts."""
        self._add(dsb_block(secrets, secrets_type, self.order))

    def write_block(self, btype: int, body: bytes) -> None:
        """Any other block, e.g. a custom one readers must skip."""
        self._add(block(btype, body, self.order))

    def write_all(self, packets: Iterable[tuple[int, bytes]], ifid: int = 0) -> int:
        """Write (ts_ns, frame) pairs on one interface; returns how many."""
        n = self.count
        write = self.write
        for ts, data in packets:
            write(ts, data, ifid)
        return self.count - n


def write_pcap(
    fh: BinaryIO, packets: Iterable[tuple[int, bytes]], linktype: int = 1, *, nano: bool = False
) -> int:
    """A whole little-endian pcap of (ts_ns, frame) pairs; returns the packet count."""
    with PcapWriter(fh, linktype, nano=nano) as w:
        return w.write_all(packets)


def write_pcapng(
    fh: BinaryIO, packets: Iterable[tuple[int, bytes]], linktype: int = 1, *, tsresol: int | None = None
) -> int:
    """A whole little-endian pcapng of (ts_ns, frame) pairs on one interface; returns the count."""
    with PcapngWriter(fh) as w:
        w.add_interface(linktype, tsresol=tsresol)
        return w.write_all(packets)
