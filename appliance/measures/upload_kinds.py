"""What an encrypted upload probably carries, from its size, duration and packet rhythm.

A burst the device sends (``bursts`` table) that is large and mostly one way is an
upload. Voice, photos and video leave different shapes whatever the cipher:
voice codecs send small frames 20 to 50 times a second at a few kB/s for seconds;
a photo or snapshot is tens of kB to a few MB sent at once; video is a sustained
stream of full-size segments at tens of kB/s and more. The thresholds below are
those shapes, stated once so a report can quote them as the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

NS = 1_000_000_000
MIN_UPLOAD = 16 * 1024  # bytes out: smaller bursts are reports and heartbeats, not media
ONE_WAY = 2.0  # bytes out at least twice the bytes in
AUDIO_MAX_RATE = 32_000  # B/s: voice codecs (AMR, Opus, Speex, G.711 at 8 kB/s...) stay under this
AUDIO_MAX_PACKET = 400  # B: one or a few voice frames per packet
AUDIO_MIN_SECONDS = 2.0
VIDEO_MIN_RATE = 40_000  # B/s sustained
VIDEO_MIN_SECONDS = 5.0
IMAGE_MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    kind: str  # audio, image, video or bulk
    confidence: str  # high, medium, low
    reason: str
    seconds: float
    rate: float  # bytes out per second
    packet: float  # mean bytes out per packet
    per_second: float  # packets out per second


def classify(start_ns: int, end_ns: int, bytes_out: int, bytes_in: int, pkts_out: int) -> Upload | None:
    """The probable content of one burst, or None when it is not an upload."""
    if bytes_out < MIN_UPLOAD or bytes_out < ONE_WAY * bytes_in or pkts_out == 0:
        return None
    secs = max((end_ns - start_ns) / NS, 0.001)
    rate, packet, pps = bytes_out / secs, bytes_out / pkts_out, pkts_out / secs
    shape = (
        f"{bytes_out / 1024:.0f} KiB in {secs:.1f} s"
        f" ({rate / 1000:.1f} kB/s, {packet:.0f}-byte packets, {pps:.0f}/s)"
    )
    if secs >= AUDIO_MIN_SECONDS and rate <= AUDIO_MAX_RATE and packet <= AUDIO_MAX_PACKET and pps >= 10:
        conf = "high" if 20 <= pps <= 60 else "medium"
        return Upload(
            "audio", conf, f"{shape}: the frame size and rate of a voice codec", secs, rate, packet, pps
        )
    if secs >= VIDEO_MIN_SECONDS and rate >= VIDEO_MIN_RATE:
        conf = "high" if packet >= 800 else "medium"
        return Upload(
            "video", conf, f"{shape}: a sustained stream at a video bit rate", secs, rate, packet, pps
        )
    if secs < VIDEO_MIN_SECONDS and bytes_out <= IMAGE_MAX_BYTES:
        conf = "medium" if 30_000 <= bytes_out <= 3_000_000 else "low"
        return Upload(
            "image", conf, f"{shape}: one upload the size of a photo or snapshot", secs, rate, packet, pps
        )
    return Upload("bulk", "low", f"{shape}: an upload of no telling shape", secs, rate, packet, pps)
