"""One direction of a TCP connection as a byte stream, in sequence order.

Dissectors need a stream, not segments: segments arrive out of order,
retransmitted or overlapping. A ``HalfStream`` holds the contiguous bytes from
the first sequence number seen, up to ``limit`` bytes not yet consumed; a
dissector that parsed whole messages ``consume``s them, so a long-lived
connection (MQTT for hours) is read with bounded memory. ``ts_at`` gives the
capture time of the segment that carried a stream offset, so each message gets
the timestamp of its first byte.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

SEQ_MOD = 1 << 32
MAX_PENDING = 64  # out-of-order segments held while waiting for a gap to fill


@dataclass(slots=True)
class HalfStream:
    """``data`` holds stream offsets ``start`` onwards; segments past a gap wait in ``pending``."""

    limit: int = 1 << 16
    base: int = -1  # sequence number of stream offset 0
    start: int = 0  # stream offset of data[0] (bytes consumed so far)
    data: bytearray = field(default_factory=bytearray)
    pending: dict[int, bytes] = field(default_factory=dict)
    marks: list[int] = field(default_factory=list)  # stream offsets where a segment's new bytes began
    times: list[int] = field(default_factory=list)  # ... and that segment's timestamp
    gaps: int = 0  # segments dropped because the gap before them never filled in time

    def add(self, seq: int, payload: bytes, syn: bool = False, ts: int = 0) -> None:
        data = self.data
        if (  # the common case first: the next bytes in order, and they fit
            not syn
            and self.base >= 0
            and not self.pending
            and (seq - self.base) % SEQ_MOD == self.start + len(data)
            and len(data) + len(payload) <= self.limit
        ):
            if payload:
                self.marks.append(self.start + len(data))
                self.times.append(ts)
                data += payload
            return
        if syn:
            self.base = (seq + 1) % SEQ_MOD
        if not payload:
            return
        if self.base < 0:
            self.base = seq
        off = (seq - self.base) % SEQ_MOD
        if off >= SEQ_MOD // 2:  # before the base: keep what extends past it
            cut = SEQ_MOD - off
            if cut >= len(payload):
                return
            payload, off = payload[cut:], 0
        end = self.start + len(self.data)
        if off > end:
            if len(self.pending) < MAX_PENDING and off < self.start + self.limit:
                self.pending[off] = payload
            else:
                self.gaps += 1
            return
        self._append(off, payload, ts)
        while self.pending:
            nxt = min(self.pending)
            if nxt > self.start + len(self.data):
                break
            self._append(nxt, self.pending.pop(nxt), ts)

    def _append(self, off: int, payload: bytes, ts: int) -> None:
        end = self.start + len(self.data)
        new = payload[end - off :]  # drop what overlaps bytes already held
        room = self.limit - len(self.data)
        if new and room > 0:
            self.marks.append(end)
            self.times.append(ts)
            self.data += new[:room]

    def consume(self, n: int) -> None:
        """Forget the first ``n`` held bytes (whole messages already parsed)."""
        if n <= 0:
            return
        del self.data[:n]
        self.start += n
        keep = max(bisect_right(self.marks, self.start) - 1, 0)
        if keep:
            del self.marks[:keep]
            del self.times[:keep]

    def ts_at(self, off: int) -> int:
        """Timestamp of the segment that carried stream offset ``off`` (0 if none)."""
        i = bisect_right(self.marks, off) - 1
        return self.times[i] if i >= 0 else (self.times[0] if self.times else 0)

    @property
    def full(self) -> bool:
        return len(self.data) >= self.limit
