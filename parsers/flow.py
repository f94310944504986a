"""One bidirectional flow record, as the meter (``parsers.meter``) keeps and hands it out.

Plain slots, no behaviour beyond its own counters: the meter fills it in the hot loop,
the ingest turns a finished one into a row (``appliance.ingest.flow_rows``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from parsers.sessions import TcpSession, UdpSession

TCP = 6
SYN = 0x02
MAX_BURSTS = 4096  # per flow record: 30 min of 1 s gaps is 1,800
# A payload this large is a full segment or datagram: above RFC 9000's 1,200-byte minimum a QUIC
# path must carry and WebRTC's usual RTP packet limit, below Ethernet's 1,460-byte TCP MSS. Voice
# frames stay far below it; files and video fill packets to it (appliance.measures.upload_kinds).
LARGE_PAYLOAD = 1200


class Flow:
    """One direction-aware flow record. ``a`` initiated, ``b`` responded."""

    __slots__ = (
        "a",
        "active_end",
        "ap",
        "app",
        "b",
        "bp",
        "burst",
        "bursts",
        "by_dn",
        "by_up",
        "closed",
        "dmac",
        "end",
        "fin_dn",
        "fin_up",
        "first",
        "fl_dn",
        "fl_up",
        "idle_end",
        "ipv",
        "l7",
        "last",
        "owner",
        "pk_dn",
        "pk_up",
        "pl_dn",
        "pl_up",
        "prev",
        "proto",
        "rmac",
        "rst",
        "seq",
        "smac",
        "synack",
        "vlan",
    )

    def __init__(
        self, proto: int, a: bytes, ap: int, b: bytes, bp: int, ts: int, smac: bytes, dmac: bytes, vlan: int
    ) -> None:
        self.proto, self.a, self.ap, self.b, self.bp = proto, a, ap, b, bp
        self.first = self.last = ts
        # past this time a packet starts the next record: the first plus the meter's active
        # timeout, set by the meter (``FlowMeter._new_flow``) so its loop compares, not subtracts
        self.active_end = 0
        # a time before which the flow cannot have been idle past the meter's idle timeout (its
        # last packet's time plus the timeout, as of some packet): the meter's loop compares with
        # it and tests exactly only past it, where it moves it on (``parsers.meter._stale``)
        self.idle_end = 0
        self.pk_up = self.pk_dn = self.by_up = self.by_dn = self.pl_up = self.pl_dn = 0
        self.fl_up = self.fl_dn = 0
        self.smac, self.dmac, self.rmac = smac, dmac, b""
        self.vlan = vlan
        self.ipv = 4 if len(a) == 4 else 6
        self.closed = 0  # ts at which TCP closed (RST, or FIN both ways)
        self.fin_up = self.fin_dn = self.rst = self.synack = False
        self.end = ""
        self.seq = 0  # continuation number after an active timeout
        # The record this one continues after an active timeout: its session reads on, and a
        # message it reads late (held until its protocol was known) belongs to the record whose span
        # holds the message's time (``covering``).
        self.prev: Flow | None = None
        # The one slot for the flow's consumer: which end is the device, decided once by it
        # (appliance.ingest.owner); the parser neither sets nor reads it.
        self.owner: object | None = None
        self.app: TcpSession | UdpSession | None = None  # the session while it still reads payload
        self.l7: TcpSession | UdpSession | None = None  # the session, kept for enrichment
        # payload bursts: [start, last, bytes up, bytes down, packets up, packets down, squared
        # bytes up, squared bytes down, large packets up, large packets down] (the squares give the
        # spread of packet sizes, the shape that tells a codec's frames from a file's segments)
        self.burst: list[int] | None = None
        self.bursts: list[list[int]] = []

    def new_burst(self, ts: int) -> list[int]:
        """Open the next payload burst; past MAX_BURSTS in one record, later ones are not kept."""
        b = [ts, ts, 0, 0, 0, 0, 0, 0, 0, 0]
        if len(self.bursts) < MAX_BURSTS:
            self.bursts.append(b)
        self.burst = b
        return b

    @property
    def tcp_state(self) -> str:
        """A short verdict on the TCP life cycle (empty for other protocols)."""
        if self.proto != TCP:
            return ""
        syn = bool(self.fl_up & SYN)
        if self.rst:
            return "rejected" if syn and not self.synack else "reset"
        if self.fin_up and self.fin_dn:
            return "closed"
        if self.fin_up or self.fin_dn:
            return "half_closed"
        if syn and self.synack:
            return "established"
        if syn:
            return "syn_sent"
        return "midstream"

    @property
    def handshake(self) -> bool:
        return bool(self.fl_up & SYN) and self.synack


def covering(f: Flow, ts: int) -> Flow:
    """The record of ``f``'s connection whose span holds ``ts``: ``f`` or one it continues.

    A TCP session reads on across the records an active timeout cuts; a reader that held its
    bytes (an MQTT stream whose protocol is known only at its end) hands its messages out with
    the last record, and each must be named by its own (their evidence is that record's packets)."""
    while ts < f.first and f.prev is not None:
        f = f.prev
    return f
