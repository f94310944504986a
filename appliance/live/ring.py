"""Rotating pcapng ring: the evidence files of the live tap.

Each file is a self-contained pcapng section (SHB, then one IDB per link type
with ``if_name`` and ``if_tsresol`` = 9, i.e. nanosecond timestamps) followed by
one Enhanced Packet Block per packet, laid out by ``parsers.capture_write``.
Each ``write`` assembles its blocks in memory and hands them to the file whole,
so a file cut at any point (crash, power loss) is readable up to its last whole
block; ``flush`` hands everything to the kernel and has a background thread
``fsync`` it (on a duplicate of the descriptor, so rotation and close never
wait): at most what came after the last flush, plus the one fsync still
running, is lost. Waiting for the disk in the capture loop would stall it for a
second or more at 30 MB/s and overflow the kernel's buffer.

A new file is started when the next packet would take the current one past
``size_mb`` (a file holds at least one packet, so a single huge packet may
exceed it); at most ``files`` files are kept, the oldest deleted first. Files
are named ``{prefix}-{yyyymmddTHHMMSSZ}-{seq:05d}.pcapng`` after the UTC time
of their first packet and a sequence number that keeps growing across
restarts: ring files left in the directory by an earlier run are adopted, so
the disk bound holds across restarts too.

A file that holds evidence of a finding is *pinned* (``pin``, issue 21): it no longer rotates
away and no longer counts among the ``files`` kept; pinned files are bounded by their own disk
budget (``evidence_mb``) instead. What is pinned stays; a file that would take the pinned files
past the budget is not pinned, and ``pin`` says which (the session reports it), so the budget
never deletes evidence already kept. Pins live as long as the ring object: files pinned by an
earlier run are adopted as plain ring files.

A finding comes later than its packets (its flows end, are written, then an assessment runs), and
names every flow of its kind so far. So files holding flows that carried personal data are *held*
first (``hold``): kept past rotation, within the same budget, until a deadline by which an
assessment should have pinned them; then (or when the ring closes) they rotate as usual.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import threading
import time
from collections.abc import Callable
from typing import BinaryIO

from parsers.capture_write import PcapngWriter


class Ring:
    """Write packets into a bounded set of rotating pcapng files."""

    def __init__(
        self,
        directory: str,
        size_mb: float,
        files: int,
        linktype: int,
        snaplen: int,
        iface: str,
        prefix: str = "tapaudit",
        evidence_mb: float = 1000.0,
    ) -> None:
        if size_mb <= 0:
            raise ValueError("ring file size must be positive")
        if files < 1:
            raise ValueError("ring must keep at least one file")
        self.directory = directory
        self.size_limit = int(size_mb * 1_000_000)
        self.max_files = files
        self.linktype = linktype
        self.snaplen = snaplen
        self.iface = iface
        self.prefix = prefix
        self.evidence_limit = int(evidence_mb * 1_000_000)
        self.on_rotate: Callable[[str], None] | None = None
        os.makedirs(directory, exist_ok=True)
        self._name_re = re.compile(re.escape(prefix) + r"-(\d{8}T\d{6}Z)-(\d{5,})\.pcapng")
        found = []
        for name in os.listdir(directory):
            m = self._name_re.fullmatch(name)
            if m:
                found.append((int(m.group(2)), m.group(1), name))
        found.sort()
        self._files: list[str] = [os.path.join(directory, n) for _s, _t, n in found]
        self._seq = found[-1][0] + 1 if found else 1
        self._spans: dict[str, list[int]] = {}  # this run's files: first and last packet time, ns
        self._pinned: dict[str, int] = {}  # pinned file -> bytes it counts against the budget
        self._held: dict[str, tuple[int, float]] = {}  # held file -> (bytes, until: time.monotonic())
        self._fh: BinaryIO | None = None
        self._out: PcapngWriter | None = None
        self._path = ""
        self._closed = False
        self._sync_jobs: queue.Queue[int | None] = queue.Queue()
        self._syncer = threading.Thread(target=self._sync_loop, name="ring-fsync", daemon=True)
        self._syncer.start()

    def _sync_loop(self) -> None:
        while True:
            fd = self._sync_jobs.get()
            try:
                if fd is None:
                    return
                with contextlib.suppress(OSError):
                    os.fsync(fd)
                os.close(fd)
            finally:
                self._sync_jobs.task_done()

    def _sync_later(self, fh: BinaryIO) -> None:
        fh.flush()
        self._sync_jobs.put(os.dup(fh.fileno()))

    def wait_synced(self) -> None:
        """Block until every fsync handed to the background so far is done."""
        self._sync_jobs.join()

    @property
    def files(self) -> list[str]:
        """Ring files still on disk, oldest first (the current one last)."""
        return list(self._files)

    @property
    def pinned(self) -> list[str]:
        """Files kept as evidence of a finding, oldest first."""
        return [f for f in self._files if f in self._pinned]

    def pin(self, first_ns: int, last_ns: int) -> tuple[list[str], list[str]]:
        """Keep every file of this run holding packets from ``first_ns`` to ``last_ns`` (a flow's
        span): (files pinned now, files left unpinned because the evidence budget is spent). The
        file being written counts at its full size, which it may yet reach."""
        pinned: list[str] = []
        refused: list[str] = []
        for path in self._spanning(first_ns, last_ns):
            if path in self._pinned:
                continue
            size = self._held.pop(path, (self._file_size(path), 0.0))[0]
            if self._kept_bytes() + size > self.evidence_limit:
                refused.append(path)
                continue
            self._pinned[path] = size
            pinned.append(path)
        return pinned, refused

    def hold(self, first_ns: int, last_ns: int, until: float) -> list[str]:
        """Keep the files holding packets from ``first_ns`` to ``last_ns`` until ``until``
        (``time.monotonic()``), within the evidence budget: the files held now."""
        held = []
        for path in self._spanning(first_ns, last_ns):
            if path in self._pinned:
                continue
            size, was = self._held.get(path, (self._file_size(path), 0.0))
            if path not in self._held and self._kept_bytes() + size > self.evidence_limit:
                continue
            self._held[path] = (size, max(was, until))
            held.append(path)
        return held

    def release(self) -> list[str]:
        """End every hold and delete the unpinned files beyond the ring's count (a session's end:
        no finding can be made on them while it runs any more); the files deleted."""
        self._held.clear()
        return self._trim()

    def _spanning(self, first_ns: int, last_ns: int) -> list[str]:
        out = []
        for path in self._files:
            span = self._spans.get(path)
            if span is not None and span[1] >= first_ns and span[0] <= last_ns:
                out.append(path)
        return out

    def _file_size(self, path: str) -> int:
        return self.size_limit if path == self._path else _size(path)

    def _kept_bytes(self) -> int:
        return sum(self._pinned.values()) + sum(size for size, _until in self._held.values())

    def _trim(self) -> list[str]:
        """Delete the oldest files that are neither pinned nor held beyond ``max_files``."""
        now = time.monotonic()
        for path in [p for p, (_n, until) in self._held.items() if until <= now]:
            del self._held[path]
        rotating = [f for f in self._files if f not in self._pinned and f not in self._held]
        gone = rotating[: max(0, len(rotating) - self.max_files)]
        for old in gone:
            self._files.remove(old)
            self._spans.pop(old, None)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(old)
        return gone

    @property
    def current(self) -> str:
        """Path of the file being written ('' before the first packet or after close)."""
        return self._path

    def write(self, packets: list[tuple[int, int, int, bytes]]) -> None:
        """Append (ts_ns, linktype, wire_len, data) packets, one EPB each, rotating as needed."""
        if self._closed:
            raise ValueError("ring is closed")
        if not packets:
            return
        out = self._out or self._rotate(packets[0][0])
        i = 0
        while True:
            start = i
            i = out.write_packets(packets, i, self.size_limit)
            if i > start:
                span = self._spans[self._path]
                span[0] = min(span[0], packets[start][0])
                span[1] = max(span[1], packets[i - 1][0])
            if i >= len(packets):
                break
            out = self._rotate(packets[i][0])  # the file is full; a new one takes at least one packet
        out.flush()

    def flush(self) -> None:
        """Write out buffered blocks; the background thread fsyncs them."""
        if self._fh is not None:
            if self._out is not None:
                self._out.flush()
            self._sync_later(self._fh)

    def close(self) -> None:
        """Close the current file and wait until every file is on the disk; the ring cannot be
        written afterwards."""
        if self._closed:
            return
        self._closed = True
        self._close_current()
        self._sync_jobs.put(None)
        self._syncer.join()

    def __enter__(self) -> Ring:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------

    def _close_current(self) -> str:
        fh, out, path = self._fh, self._out, self._path
        if fh is None:
            return ""
        try:
            if out is not None:
                out.flush()
            self._sync_later(fh)
        finally:
            fh.close()
            self._fh = self._out = None
            self._path = ""
        return path

    def _rotate(self, first_ts_ns: int) -> PcapngWriter:
        closed = self._close_current()
        stamp_s = first_ts_ns // 1_000_000_000 if first_ts_ns > 0 else int(time.time())
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(stamp_s))
        path = os.path.join(self.directory, f"{self.prefix}-{stamp}-{self._seq:05d}.pcapng")
        self._seq += 1
        fh = open(path, "xb")  # noqa: SIM115 - kept open across calls, closed in _close_current
        out = PcapngWriter(fh, userappl="tapaudit")
        out.add_interface(self.linktype, self.snaplen, tsresol=9, name=self.iface)
        out.flush()
        self._fh, self._out, self._path = fh, out, path
        self._files.append(path)
        self._spans[path] = [first_ts_ns, first_ts_ns]
        if closed in self._pinned:  # a kept file is whole now: it counts at its real size
            self._pinned[closed] = _size(closed)
        if closed in self._held:
            self._held[closed] = (_size(closed), self._held[closed][1])
        self._trim()
        self._sync_dir()
        if closed and self.on_rotate is not None:
            self.on_rotate(closed)
        return out

    def _sync_dir(self) -> None:
        """Make the new file's name (and the deletions) durable."""
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
