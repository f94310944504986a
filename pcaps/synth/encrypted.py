"""Encrypted behaviours of known shape: reporting periods and uploads the payload does not show.

The appliance cannot read these flows; it must tell from timing and sizes alone
that a lock keeps a connection alive every 45 s, that a camera streams video for
10 s or posts a snapshot, that a speaker uploads voice. Each behaviour here
records what it sent in ``lab.periodic`` and ``lab.uploads``, which
``generate_lab`` writes to the ground truth: the truth comes from the generator's
schedule, not from the code under test.
"""

from __future__ import annotations

from scapy.layers.inet import IP, UDP
from scapy.packet import Raw

from pcaps.synth import frames as fr
from pcaps.synth.hosts import Host
from pcaps.synth.network import Lab


def handshake(lab: Lab, name: str) -> tuple[bytes, bytes]:
    """A ClientHello (with the server name) and the server's answer, as opaque records."""
    hello = fr.tls_client_hello(name, lab.rng) + fr.tls_record(20, 1, lab.rng)
    return hello, fr.tls_record(22, 90, lab.rng) + fr.tls_record(23, 2400, lab.rng)


def keepalive(
    lab: Lab,
    h: Host,
    name: str,
    ip: str,
    start: float,
    stop: float,
    period: float,
    outage: tuple[float, float],
) -> None:
    """A persistent TLS connection: a 64-byte record every ``period`` s with 0.3 s of jitter;
    every 7th beat is lost, and none come during ``outage`` (the radio slept)."""
    hello, answer = handshake(lab, name)
    beats: list[tuple[float, bytes, bytes | None]] = [(start + 0.04, hello, answer)]
    sent = []
    k = 0
    t = start + period
    while t < stop - 5:
        k += 1
        if k % 7 and not outage[0] <= t < outage[1]:
            at = round(t + lab.rng.gauss(0, 0.3), 6)
            beats.append((at, fr.tls_record(23, 64, lab.rng), fr.tls_record(23, 48, lab.rng)))
            sent.append(at)
        t += period
    lab.timed_tcp(h, ip, 443, start, stop, beats)
    sent.insert(0, start + 0.04)  # the handshake is the first beat
    runs = [(start, outage[0]), (outage[1], stop)]
    lab.periodic.append(
        {
            "device": h.mac,
            "destination": name,
            "period_s": period,
            "beats": len(sent),
            "longest_run_s": round(max(_span([b for b in sent if a <= b < e]) for a, e in runs), 3),
            "note": "persistent TLS keep-alive; every 7th beat lost, a 10-minute outage",
        }
    )


def video(
    lab: Lab, h: Host, name: str, ip: str, t: float, seconds: float, per_second: int, size: int
) -> None:
    """A TLS upload paced like a camera's video stream: ``per_second`` records of ``size`` bytes."""
    hello, answer = handshake(lab, name)
    sends: list[tuple[float, bytes, bytes | None]] = [(t + 0.04, hello, answer)]
    n = int(seconds * per_second)
    for i in range(n):  # the server acknowledges every fourth record
        sends.append(
            (
                round(t + 0.2 + i / per_second, 6),
                fr.tls_record(23, size, lab.rng),
                b"" if i % 4 == 3 else None,
            )
        )
    lab.timed_tcp(h, ip, 443, t, t + seconds + 1, sends)
    lab.uploads.append(_upload(h, name, t + 0.2, seconds, n * (size + 5), "video"))


def snapshot(lab: Lab, h: Host, name: str, ip: str, t: float, nbytes: int) -> None:
    """One still image posted over TLS in a single burst."""
    hello, answer = handshake(lab, name)
    body = b"".join(fr.tls_record(23, min(16384, nbytes - i), lab.rng) for i in range(0, nbytes, 16384))
    sends: list[tuple[float, bytes, bytes | None]] = [(t + 0.04, hello, answer)]
    lab.timed_tcp(h, ip, 443, t, t + 2, [*sends, (t + 0.2, body, fr.tls_record(23, 40, lab.rng))])
    lab.uploads.append(_upload(h, name, t + 0.2, 0.0, len(body), "image"))


def voice(lab: Lab, h: Host, ip: str, t: float, seconds: float, frame: int = 160) -> None:
    """Voice frames over UDP, one every 20 ms (G.711 at 8 kB/s), encrypted (SRTP-like opaque bytes)."""
    n = int(seconds * 50)
    for k in range(n):
        lab.add(
            t + k * 0.02,
            lab.up(h) / IP(src=h.ip, dst=ip) / UDP(sport=52000, dport=3478) / Raw(lab.rng.randbytes(frame)),
        )
    lab.uploads.append(_upload(h, ip, t, (n - 1) * 0.02, n * frame, "audio"))


def periodic(lab: Lab, h: Host, name: str, period: float, times: list[float], note: str) -> None:
    """Record a series of encrypted exchanges the generator sent every ``period`` s."""
    lab.periodic.append(
        {
            "device": h.mac,
            "destination": name,
            "period_s": period,
            "beats": len(times),
            "longest_run_s": round(max(times) - min(times), 3),
            "note": note,
        }
    )


def _upload(h: Host, destination: str, t: float, seconds: float, nbytes: int, kind: str) -> dict[str, object]:
    return {
        "device": h.mac,
        "destination": destination,
        "start": round(t, 6),
        "seconds": round(seconds, 3),
        "bytes": nbytes,
        "kind": kind,
    }


def _span(times: list[float]) -> float:
    return max(times) - min(times) if times else 0.0
