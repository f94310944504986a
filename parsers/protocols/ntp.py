"""NTP (RFC 5905, 1305, 4330) headers: what a device's clock traffic says about it.

Which servers a device syncs with, how often (poll) and with which version names its
firmware; the client's transmit timestamp is its own clock. Fields follow Zeek's
ntp.log: the reference id is text for stratum 0 (kiss code) and 1 (source), an IPv4
address otherwise. Control (mode 6) and private (mode 7, e.g. monlist) messages have
another layout: only mode and version are read from them.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

MODES = {
    0: "reserved",
    1: "symmetric-active",
    2: "symmetric-passive",
    3: "client",
    4: "server",
    5: "broadcast",
    6: "control",
    7: "private",
}
HEADER = 48
NTP_TO_UNIX = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
ERA = 1 << 32


class NtpError(ValueError):
    """Not an NTP header: empty, version 0 or above 4, or shorter than 48 bytes for modes 0-5."""


@dataclass(slots=True)
class NtpMessage:
    leap: int
    version: int
    mode: int
    stratum: int = 0
    poll: int = 0  # log2 seconds, signed
    precision: int = 0  # log2 seconds, signed
    root_delay: float = 0.0  # seconds
    root_dispersion: float = 0.0  # seconds
    ref_id: str = ""  # IPv4 text for stratum >= 2, else the 4 bytes as latin-1 text ("GPS\x00")
    reference_ts: float = 0.0  # Unix seconds; 0.0 when the field is zero
    origin_ts: float = 0.0
    receive_ts: float = 0.0
    transmit_ts: float = 0.0
    extra: int = 0  # bytes after the header: extension fields (RFC 7822) and MAC

    @property
    def mode_name(self) -> str:
        return MODES[self.mode]

    @property
    def poll_interval(self) -> float:
        return 2.0**self.poll

    @property
    def precision_seconds(self) -> float:
        return 2.0**self.precision


def timestamp(seconds: int, fraction: int) -> float:
    """NTP 64-bit timestamp to Unix seconds; era 1 (from 2036) when the top bit is clear (RFC 4330 3)."""
    if seconds == 0 and fraction == 0:
        return 0.0
    if not seconds & 0x80000000:
        seconds += ERA
    return seconds - NTP_TO_UNIX + fraction / ERA


def parse(payload: bytes) -> NtpMessage:
    """Parse one NTP datagram (udp/123); raises NtpError when it cannot be an NTP header."""
    if not payload:
        raise NtpError("empty datagram")
    first = payload[0]
    leap, version, mode = first >> 6, (first >> 3) & 7, first & 7
    if not 1 <= version <= 4:
        raise NtpError(f"NTP version {version}")
    if mode in (6, 7):
        return NtpMessage(0 if mode == 7 else leap, version, mode)
    if len(payload) < HEADER:
        raise NtpError(f"{len(payload)} bytes, shorter than the 48-byte header")
    stratum, poll, precision, delay, disp = struct.unpack_from("!xBbbII", payload, 0)
    ref_raw = payload[12:16]
    ts = struct.unpack_from("!8I", payload, 16)
    return NtpMessage(
        leap,
        version,
        mode,
        stratum,
        poll,
        precision,
        delay / 65536,
        disp / 65536,
        socket.inet_ntoa(ref_raw) if stratum >= 2 else ref_raw.decode("latin-1"),
        timestamp(ts[0], ts[1]),
        timestamp(ts[2], ts[3]),
        timestamp(ts[4], ts[5]),
        timestamp(ts[6], ts[7]),
        len(payload) - HEADER,
    )
