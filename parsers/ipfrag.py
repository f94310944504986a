"""IPv4 (RFC 791) and IPv6 (RFC 8200 4.5) fragment reassembly with hard limits.

Fragments are kept per (version, source, destination, id, protocol) until the
datagram is whole, ``TIMEOUT_NS`` passes, or the pending set is full; overlaps
keep the first copy (RFC 5722 says drop, we only need the bytes once). What
never completes is counted, not raised.
"""

from __future__ import annotations

from collections import Counter

TIMEOUT_NS = 30 * 1_000_000_000
MAX_PENDING = 4096
MAX_DATAGRAM = 65535

FragKey = tuple[int, bytes, bytes, int, int]


class _Pending:
    __slots__ = ("first_ts", "pieces", "total")

    def __init__(self, ts: int) -> None:
        self.first_ts = ts
        self.pieces: dict[int, bytes] = {}
        self.total = -1


class Reassembler:
    """Collects fragments; ``add`` returns the whole payload once it is complete."""

    def __init__(self) -> None:
        self.pending: dict[FragKey, _Pending] = {}
        self.stats: Counter[str] = Counter()

    def add(self, ts: int, key: FragKey, offset: int, more: bool, data: bytes) -> bytes | None:
        """Add one fragment's payload at byte ``offset``; ``more`` is the MF flag."""
        p = self.pending.get(key)
        if p is None:
            if len(self.pending) >= MAX_PENDING:
                self._expire(ts, force=True)
            p = self.pending[key] = _Pending(ts)
        elif ts - p.first_ts > TIMEOUT_NS:
            self.stats["fragments_timed_out"] += 1
            p = self.pending[key] = _Pending(ts)
        if offset + len(data) > MAX_DATAGRAM:
            self.stats["fragments_oversized"] += 1
            del self.pending[key]
            return None
        if offset in p.pieces:
            self.stats["fragments_duplicate"] += 1
        else:
            p.pieces[offset] = data
        if not more:
            p.total = offset + len(data)
        if p.total < 0:
            return None
        pos, parts = 0, []
        for start in sorted(p.pieces):
            if start > pos:
                return None  # a hole remains
            piece = p.pieces[start]
            if start + len(piece) > pos:
                parts.append(piece[pos - start :])
                pos = start + len(piece)
        if pos < p.total:
            return None
        del self.pending[key]
        return b"".join(parts)[: p.total]

    def _expire(self, now: int, force: bool = False) -> None:
        old = [k for k, p in self.pending.items() if force or now - p.first_ts > TIMEOUT_NS]
        for k in old[: max(1, len(old) // 2) if force else None]:
            del self.pending[k]
            self.stats["fragments_incomplete"] += 1

    def flush(self) -> Counter[str]:
        """End of input: count what never completed and return all counters."""
        self.stats["fragments_incomplete"] += len(self.pending)
        self.pending.clear()
        out, self.stats = self.stats, Counter()
        return out
