"""The first bytes of each direction of a TCP connection, in sequence order.

Dissectors of handshakes (TLS, HTTP request lines) need a stream, not segments:
segments arrive out of order, retransmitted or overlapping. This keeps, per
direction, the contiguous bytes from the first sequence number seen, up to a limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEQ_MOD = 1 << 32


@dataclass
class HalfStream:
    """One direction: ``data`` is contiguous from ``base``; later segments wait in ``pending``."""

    limit: int = 1 << 16
    base: int = -1
    data: bytearray = field(default_factory=bytearray)
    pending: dict[int, bytes] = field(default_factory=dict)

    def add(self, seq: int, payload: bytes, syn: bool = False) -> None:
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
        if off > len(self.data):
            if len(self.pending) < 256 and off < self.limit:
                self.pending[off] = payload
            return
        self._append(off, payload)
        while self.pending:
            nxt = min(self.pending)
            if nxt > len(self.data):
                break
            self._append(nxt, self.pending.pop(nxt))

    def _append(self, off: int, payload: bytes) -> None:
        new = payload[len(self.data) - off :]  # drop what overlaps bytes already held
        room = self.limit - len(self.data)
        if new and room > 0:
            self.data += new[:room]

    @property
    def full(self) -> bool:
        return len(self.data) >= self.limit
