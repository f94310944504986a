"""Live packet source on a network interface, through libpcap (pcapy-ng).

``LiveSource.read`` returns the packets that are ready as
``(ts_ns, linktype, wire_len, data)`` tuples, the same shape the capture file
readers yield, or ``[]`` after about ``timeout_ms`` with nothing to read.

Notes on the libpcap binding (pcapy-ng 2.x):

* The handle is put in non-blocking mode and we wait on its file descriptor
  with ``poll`` ourselves: on Linux (TPACKET_V3) a blocking read with a
  timeout never returns while no packet arrives at all.
* pcapy-ng does not expose ``pcap_set_immediate_mode``; the kernel hands a
  buffer block over when it fills or when ``timeout_ms`` expires, so a packet
  is delivered at most ``timeout_ms`` late.
* Timestamps are microseconds (pcapy-ng has no nanosecond precision API);
  ``ts_ns`` is microseconds * 1000.
* With the default ``snaplen`` (65535, no truncation in practice) packets are
  read with ``next_batch``: one C call per batch, ~0.3 us of Python per packet.
  That API carries no wire length, so ``wire_len`` is the captured length,
  which is exact unless a packet hit the snap length. With a smaller
  ``snaplen`` (truncation expected) packets are read through ``dispatch``,
  slower but with libpcap's exact wire length.
"""

from __future__ import annotations

import hashlib
import os
import select
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pcapy

DEFAULT_SNAPLEN = 65535

# libpcap activate() status codes (pcap/pcap.h)
_NO_SUCH_DEVICE = -5
_PERM_DENIED = -8
_IFACE_NOT_UP = -9
_PROMISC_PERM_DENIED = -11

# DLT values that differ from the LINKTYPE written into files (pcap-common.c)
_DLT_TO_LINKTYPE = {12: 101, 14: 101}

_PERM_MSG = "permission denied: live capture needs CAP_NET_RAW and CAP_NET_ADMIN (or root)"


class LiveCaptureError(Exception):
    """A live capture cannot be opened or configured (one-line reason)."""


@dataclass
class CaptureStats:
    received: int  # packets that passed the filter since open (pcap stats ps_recv)
    dropped: int  # dropped by the kernel for lack of buffer space (ps_drop)
    if_dropped: int  # dropped by the interface or its driver (ps_ifdrop)
    iface_rx_dropped: int  # growth of /sys/class/net/IFACE/statistics/rx_dropped since open


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _rx_dropped(iface: str) -> int | None:
    try:
        with open(f"/sys/class/net/{iface}/statistics/rx_dropped", "rb") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return None


def _iface_exists(iface: str) -> bool:
    if iface == "any":
        return True
    if "/" in iface or iface in (".", ".."):
        return False
    return os.path.exists(f"/sys/class/net/{iface}")


def session_id(iface: str, started_ns: int) -> str:
    """A live session's capture id: nothing to hash yet, so host, interface and start time."""
    return hashlib.sha256(f"live\x00{socket.gethostname()}\x00{iface}\x00{started_ns}".encode()).hexdigest()


class LiveSource:
    """Packets captured on one interface, optionally narrowed by a BPF filter (an
    ``appliance.ingest.sources.Source``: the capture is named when the capture starts)."""

    def __init__(
        self,
        iface: str,
        bpf: str = "",
        snaplen: int = DEFAULT_SNAPLEN,
        buffer_mb: int = 64,
        promisc: bool = True,
        timeout_ms: int = 100,
    ) -> None:
        self.iface = iface
        self.snaplen = snaplen
        self.timeout_ms = timeout_ms
        self._timeout_s = max(timeout_ms, 1) / 1000.0
        if not iface:
            raise LiveCaptureError("no interface given")
        try:
            pc = pcapy.create(iface)
            pc.set_snaplen(snaplen)
            pc.set_promisc(1 if promisc else 0)
            pc.set_timeout(max(timeout_ms, 1))
            pc.set_buffer_size(max(buffer_mb, 1) << 20)
            status = pc.activate()
        except pcapy.PcapError as exc:
            raise self._open_error(None, exc) from None
        if isinstance(status, int) and status < 0:
            raise self._open_error(status, None)
        self._pc = pc
        try:
            dlt = pc.datalink()
            if dlt < 0:
                raise LiveCaptureError(f"{iface}: capture did not start (pcap status {status})")
            self.dlt: int = dlt
            self.linktype: int = _DLT_TO_LINKTYPE.get(dlt, dlt)
            if bpf.strip():
                try:
                    pc.setfilter(bpf)
                except (pcapy.PcapError, pcapy.BPFError) as exc:
                    raise LiveCaptureError(f"bad BPF filter {bpf!r}: {_one_line(exc)}") from None
            pc.setnonblock(1)
            self._fd: int = pc.getfd()
            self._poll = select.poll()
            self._poll.register(self._fd, select.POLLIN)
            # Counters start here: the kernel counted whatever arrived between activate and
            # setfilter (libpcap filters those out in user space but keeps them in ps_recv).
            recv0, drop0, ifdrop0 = pc.stats()
            self._base = (recv0, drop0, ifdrop0)
        except BaseException:
            pc.close()
            raise
        self._rx0 = _rx_dropped(iface)
        self.started_ns = time.time_ns()
        self.capture_id = session_id(iface, self.started_ns)
        self._closed = False
        self._batch = self.snaplen >= DEFAULT_SNAPLEN
        self._meta = struct.Struct("=IIII").iter_unpack

    def _open_error(self, status: int | None, exc: Exception | None) -> LiveCaptureError:
        iface = self.iface
        if status == _NO_SUCH_DEVICE or not _iface_exists(iface):
            return LiveCaptureError(f"no such interface: {iface}")
        if status in (_PERM_DENIED, _PROMISC_PERM_DENIED):
            return LiveCaptureError(f"{iface}: {_PERM_MSG}")
        if status == _IFACE_NOT_UP:
            return LiveCaptureError(f"{iface}: interface is not up")
        if exc is None:
            # create()/activate() give only a status code; open_live reports libpcap's text
            try:
                pcapy.open_live(iface, self.snaplen, 0, max(self.timeout_ms, 1)).close()
            except pcapy.PcapError as err:
                exc = err
        text = _one_line(exc) if exc is not None else f"pcap status {status}"
        if "permission" in text.lower() or "not permitted" in text.lower():
            return LiveCaptureError(f"{iface}: {_PERM_MSG}")
        return LiveCaptureError(f"{iface}: cannot capture: {text}")

    def read(self, max_packets: int = 4096) -> list[tuple[int, int, int, bytes]]:
        """Packets ready now (up to max_packets); [] after ~timeout_ms if none arrive."""
        if self._closed:
            raise LiveCaptureError(f"{self.iface}: capture is closed")
        out = self._read_now(max_packets)
        if not out:
            self._poll.poll(self._timeout_s * 1000)  # poll, not select: no FD_SETSIZE (1024) limit
            out = self._read_now(max_packets)
        return out

    def batches(self, max_packets: int = 4096) -> Iterator[list[tuple[int, int, int, bytes]]]:
        """A batch per ``read``: the packets ready now, or ``[]`` after ~timeout_ms with none, so the
        caller's loop flushes and serves requests while the wire is quiet. Ends once closed."""
        while not self._closed:
            yield self.read(max_packets)

    def _read_now(self, max_packets: int) -> list[tuple[int, int, int, bytes]]:
        try:
            if self._batch:
                buf, meta = self._pc.next_batch(max_packets)
                if not meta:
                    return []
                lt = self.linktype
                return [
                    ((sec * 1_000_000 + usec) * 1000, lt, cap, buf[off : off + cap])
                    for sec, usec, off, cap in self._meta(meta)
                ]
            out: list[tuple[int, int, int, bytes]] = []
            append = out.append
            lt = self.linktype

            def got(hdr: Any, data: bytes) -> None:
                sec, usec = hdr.getts()
                append(((sec * 1_000_000 + usec) * 1000, lt, hdr.getlen(), data))

            self._pc.dispatch(max_packets, got)
            return out
        except pcapy.PcapError as exc:
            raise LiveCaptureError(f"{self.iface}: read failed: {_one_line(exc)}") from None

    def stats(self) -> CaptureStats:
        """libpcap's counters and the interface's own rx_dropped growth since open."""
        if self._closed:
            raise LiveCaptureError(f"{self.iface}: capture is closed")
        try:
            recv, drop, ifdrop = self._pc.stats()
            recv, drop, ifdrop = recv - self._base[0], drop - self._base[1], ifdrop - self._base[2]
        except pcapy.PcapError as exc:
            raise LiveCaptureError(f"{self.iface}: stats failed: {_one_line(exc)}") from None
        now = _rx_dropped(self.iface)
        rx = now - self._rx0 if now is not None and self._rx0 is not None else 0
        return CaptureStats(received=recv, dropped=drop, if_dropped=ifdrop, iface_rx_dropped=max(rx, 0))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pc.close()

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
