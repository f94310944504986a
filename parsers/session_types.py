"""What the per-protocol readers read and note on their flow's session, typed as Protocols.

``parsers.sessions.TcpSession`` and ``UdpSession`` have these members; the readers in
``streams`` and ``datagrams`` are typed against them, so the readers need not import the
sessions that call them (no import cycle).
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from parsers.decrypt.keys import KeyLog
from parsers.protocols import quic
from parsers.tcpstream import HalfStream


class TcpSession(Protocol):
    """What a stream reader reads and notes on its flow's session (``parsers.sessions.TcpSession``
    has these): typed here so the readers need not import the sessions that call them."""

    sni: str
    host: str
    security: str
    stats: Counter[str]
    up: HalfStream | None
    dn: HalfStream | None
    ports: tuple[int, int]
    keys: KeyLog | None


class UdpSession(Protocol):
    """What a datagram reader reads and notes on its flow's session (``parsers.sessions.UdpSession``
    has these): typed here so the readers need not import the sessions that call them."""

    app: str
    sni: str
    host: str
    packets: int
    crypto: quic.InitialCrypto | None
