"""WebSocket (RFC 6455) messages from one direction of an upgraded HTTP connection.

After ``101 Switching Protocols`` a connection carries frames, and devices send their
data in them (JSON telemetry, protobuf, a camera's snapshots). A ``WsParser`` reads one
direction incrementally: it consumes every byte it is given except an unfinished frame
header, so a frame larger than the reader's window is still read (its payload kept up
to ``max_message``). Client frames are unmasked; fragments are joined into messages;
permessage-deflate (RFC 7692) messages are inflated with the direction's own window
(context takeover), bounded in size. Ping and pong are skipped; close gives its code.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

MAX_MESSAGE = 1 << 20  # payload bytes kept of one message, before and after inflating
TAIL = b"\x00\x00\xff\xff"  # the empty stored block a compressed message's sender strips (RFC 7692 7.2.1)
DATA_OPCODES = {1: "text", 2: "binary"}
CONTROL_OPCODES = frozenset((8, 9, 10))  # close, ping, pong


class WsError(ValueError):
    """Bytes that are not WebSocket framing: a reserved opcode or bit, a bad fragment sequence."""


@dataclass(slots=True)
class WsMessage:
    kind: str  # text, binary or close
    offset: int  # stream offset of the first byte of the message's first frame
    payload: bytes = b""
    compressed: bool = False
    truncated: bool = False  # cut at max_message, or at the end of the capture
    close_code: int | None = None  # close: the status code sent, if any


def deflate_negotiated(extensions: str) -> bool:
    """Whether a Sec-WebSocket-Extensions value names permessage-deflate."""
    return any(e.split(";", 1)[0].strip().lower() == "permessage-deflate" for e in extensions.split(","))


def unmask(chunk: bytes, key: bytes, phase: int) -> bytes:
    """XOR with the 4-byte key, starting ``phase`` bytes into it (one big-integer XOR, no Python loop)."""
    n = len(chunk)
    if not n:
        return b""
    k = key[phase:] + key[:phase]
    mask = (k * (n // 4 + 1))[:n]
    return (int.from_bytes(chunk, "little") ^ int.from_bytes(mask, "little")).to_bytes(n, "little")


class WsParser:
    """The frames of one direction; state carries a frame or a fragmented message across calls."""

    __slots__ = (
        "closed",
        "ctl",
        "ctl_at",
        "deflate",
        "error",
        "errors",
        "fin",
        "inflater",
        "key",
        "left",
        "max_message",
        "msg",
        "msg_at",
        "msg_cut",
        "msg_kind",
        "msg_z",
        "opcode",
        "read",
    )

    def __init__(self, deflate: bool = False, max_message: int = MAX_MESSAGE) -> None:
        self.deflate = deflate
        self.max_message = max_message
        self.inflater: zlib._Decompress | None = None
        self.errors = 0  # compressed messages that did not inflate (a window lost to a cut message)
        self.closed = False  # a close frame was read (or bad framing): nothing after it is read
        self.error = ""  # why framing stopped, when it did
        self.opcode = -1  # the frame being read (-1: between frames)
        self.fin = False
        self.key = b""
        self.left = 0  # its payload bytes still to come
        self.read = 0  # ... and already read (the mask phase)
        self.msg_kind = ""  # the data message being assembled ('' when none)
        self.msg_at = 0
        self.msg_z = False
        self.msg_cut = False
        self.msg = bytearray()
        self.ctl = bytearray()  # the control frame's payload (125 bytes at most)
        self.ctl_at = 0

    def feed(self, data: bytes, base: int = 0) -> tuple[list[WsMessage], int]:
        """Messages completed in ``data`` (stream offset ``base`` onwards) and the bytes consumed.

        Never raises: bad framing sets ``error`` and ``closed``, and the rest is consumed unread.
        """
        out: list[WsMessage] = []
        pos, n = 0, len(data)
        while pos < n:
            if self.closed:
                return out, n
            if self.opcode < 0:
                try:
                    hlen = self._header(data, pos, base)
                except WsError as e:  # not framing (any more): stop this direction, keep what was read
                    self.error, self.closed = str(e), True
                    return out, n
                if not hlen:
                    break  # the header is not all here yet
                pos += hlen
            take = min(self.left, n - pos)
            if take:
                self._payload(data[pos : pos + take])
                pos += take
                self.left -= take
            if self.left == 0:
                msg = self._frame_end()
                if msg is not None:
                    out.append(msg)
        return out, pos

    def flush(self) -> WsMessage | None:
        """The message still being assembled when the stream ended (cut by the capture), if any."""
        if not self.msg_kind or not self.msg:
            return None
        self.msg_cut = True
        msg = self._message()
        self.opcode = -1
        return msg

    def _header(self, data: bytes, pos: int, base: int) -> int:
        """Start the frame at ``pos``: its header length, 0 when cut short."""
        n = len(data) - pos
        if n < 2:
            return 0
        b0, b1 = data[pos], data[pos + 1]
        opcode, size, hlen = b0 & 0x0F, b1 & 0x7F, 2
        if size == 126:
            hlen = 4
        elif size == 127:
            hlen = 10
        if b1 & 0x80:
            hlen += 4
        if n < hlen:
            return 0
        if size == 126:
            size = int.from_bytes(data[pos + 2 : pos + 4], "big")
        elif size == 127:
            size = int.from_bytes(data[pos + 2 : pos + 10], "big")
            if size >> 63:
                raise WsError("64-bit length with its top bit set")
        if b0 & 0x30:
            raise WsError("RSV2 or RSV3 set: no extension defines them")
        rsv1 = bool(b0 & 0x40)
        if opcode in CONTROL_OPCODES:
            if not b0 & 0x80 or size > 125 or rsv1:
                raise WsError("fragmented, compressed or long control frame")
        elif opcode == 0:
            if not self.msg_kind or rsv1:
                raise WsError("continuation frame without a message to continue")
        elif opcode in DATA_OPCODES:
            if self.msg_kind:
                raise WsError("new data frame inside a fragmented message")
            if rsv1 and not self.deflate:
                raise WsError("RSV1 set without permessage-deflate")
            self.msg_kind, self.msg_at, self.msg_z = DATA_OPCODES[opcode], base + pos, rsv1
            self.msg_cut = False
            self.msg.clear()
        else:
            raise WsError(f"reserved opcode {opcode}")
        self.opcode, self.fin, self.left, self.read = opcode, bool(b0 & 0x80), size, 0
        self.key = data[pos + hlen - 4 : pos + hlen] if b1 & 0x80 else b""
        if opcode >= 8:
            self.ctl_at = base + pos
            self.ctl.clear()
        return hlen

    def _payload(self, chunk: bytes) -> None:
        if self.opcode >= 8:
            self.ctl += chunk
        else:
            keep = chunk[: max(self.max_message - len(self.msg), 0)]
            if len(keep) < len(chunk):
                self.msg_cut = True
            if keep:
                self.msg += unmask(keep, self.key, self.read & 3) if self.key else keep
        self.read += len(chunk)

    def _frame_end(self) -> WsMessage | None:
        opcode, self.opcode = self.opcode, -1
        if opcode == 8:
            self.closed = True
            body = unmask(bytes(self.ctl), self.key, 0) if self.key else bytes(self.ctl)
            code = int.from_bytes(body[:2], "big") if len(body) >= 2 else None
            return WsMessage("close", self.ctl_at, close_code=code)
        if opcode >= 8 or not self.fin:
            return None
        return self._message()

    def _message(self) -> WsMessage:
        raw, kind, at, z, cut = bytes(self.msg), self.msg_kind, self.msg_at, self.msg_z, self.msg_cut
        self.msg_kind = ""
        self.msg.clear()
        if z:
            raw, cut = self._inflate(raw, cut)
        return WsMessage(kind, at, raw, z, cut)

    def _inflate(self, raw: bytes, cut: bool) -> tuple[bytes, bool]:
        """Inflate with the window of the messages before (context takeover); '' when it cannot."""
        if self.inflater is None:
            self.inflater = zlib.decompressobj(-15)
        try:
            out = self.inflater.decompress(raw if cut else raw + TAIL, self.max_message)
        except zlib.error:
            self.errors += 1
            self.inflater = None
            return b"", True
        if cut or self.inflater.unconsumed_tail or self.inflater.eof:
            # a message cut short (or a final block) leaves the window unknown: start the next afresh
            cut = cut or bool(self.inflater.unconsumed_tail)
            self.inflater = None
        return out, cut
