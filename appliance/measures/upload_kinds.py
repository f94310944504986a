"""What an encrypted upload probably carries, from its rate, packet sizes, duration and direction.

A burst the device sends (``bursts`` table: payload packets less than 1 s apart) that is large
is an upload. Whatever the cipher, media leave shapes that encrypted-traffic studies read from
sizes and timing alone (Apthorpe et al., "Spying on the Smart Home", 2017; Ren et al.,
"Information Exposure From Consumer IoT Devices", Mon(IoT)r, IMC 2019; Trimananda et al.,
"PingPong", NDSS 2020):

- voice is a codec's frames, one packet every 20 to 120 ms, each far smaller than a full
  segment, at a speech bit rate: over UDP (RTP/SRTP) at most a G.711 call's 64 kbit/s when every
  frame is the same size (a constant-rate codec) and at most 40 kbit/s for a variable-rate one
  (Opus speech); over TCP (a voice assistant streaming a command to its recogniser) at most
  16 kHz 16-bit PCM, 32 kB/s, sent one way in chunks of nearly one size;
- video is sustained for longer than a camera's group of pictures, at more than any speech
  codec's rate, in packets near the path's limit;
- a photo is one short upload of full segments, and so is any other file of that size: its
  shape alone does not tell the two apart, so it is only a leaning, never a class.

Every figure below is either such a published bound or, where none exists, checked on real
labelled captures (``tests/lab/test_upload_classes_real.py``, which says which clips set a
bound and which only check it). When no shape fits with at least medium confidence the upload
is ``unknown``, with the nearest shape given as its leaning: a wrong class stated with
confidence would be worse than none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

NS = 1_000_000_000
UDP = 17
MIN_UPLOAD = 16 * 1024  # bytes out: smaller bursts are reports and heartbeats, not media
ONE_WAY = 2.0  # bytes out at least twice the bytes in: an upload; less, only a call's media counts

# Voice: RFC 6716 (Opus) section 2.1.4 frames of 2.5 to 60 ms, packets of up to 120 ms; RFC 3551
# section 4.2 packetises every 20 ms by default (50/s). Chunked ASR streams send every 40-100 ms.
VOICE_MIN_PPS, VOICE_MAX_PPS = 8.0, 60.0
VOICE_TYPICAL_PPS = (15.0, 55.0)  # 60 ms Opus (16.7/s) to 20 ms G.711 (50/s): high confidence
AUDIO_MIN_SECONDS = 2.0  # a spoken command or a stretch of a call; shorter tells too little
RTP_OVERHEAD = 12 + 10  # RTP header (RFC 3550 section 5.1) and SRTP's 80-bit tag (RFC 3711 section 5.2)
CBR_MAX_BITRATE = 64_000 * 1.1  # bit/s: G.711 and G.722 (RFC 3551 sections 4.5.14, 4.5.2), 10 % slack
CBR_MAX_CV = 0.1  # spread of packet sizes of a constant-rate codec: every frame one size
VBR_MAX_BITRATE = 40_000  # bit/s: Opus fullband speech tops at 40 kbit/s (RFC 7587 section 3.1.1)
VBR_MAX_PACKET = 60 * 40_000 // 8000 + RTP_OVERHEAD  # B: 60 ms of 40 kbit/s and its headers (322)
# Over TCP: 16 kHz 16-bit mono PCM, the input of cloud speech recognisers (Amazon AVS
# SpeechRecognizer.Recognize, Baidu ASR, Google Assistant LINEAR16), is 32 kB/s.
STREAM_MAX_RATE = 32_000  # B/s
STREAM_MAX_CV = 0.6  # chunks of nearly one size; a request/answer exchange spreads further
VOICE_MAX_LARGE = 0.1  # share of full-size packets: frames are small; files and video fill packets

# Video: longer than a 2 s group of pictures (a key frame every 2 s is the usual camera default,
# e.g. 50 frames at 25 fps), above any speech codec's rate (G.711 with RTP headers is ~9 kB/s;
# a camera's low sub-stream is 128-256 kbit/s), in packets filled towards the path limit.
VIDEO_MIN_SECONDS = 3.0
VIDEO_SURE_SECONDS = 5.0
VIDEO_MIN_RATE = 12_000  # B/s (96 kbit/s)
VIDEO_MIN_PACKET = 400  # B mean: frames split into near-MTU packets
VIDEO_MIN_PPS = 10.0  # at least a low camera frame rate
TCP_VIDEO_MIN_LARGE = 0.5  # over TCP a camera writes whole frames: mostly full segments
# ... and above what a recogniser's PCM stream can be, with TLS and HTTP framing (a quarter more):
# between 12 and 40 kB/s in full segments, raw voice and low-rate video look alike.
TCP_VIDEO_MIN_RATE = STREAM_MAX_RATE * 1.25

FILE_MIN_LARGE = 0.5  # a file (photo or other) goes out in full segments
IMAGE_MAX_BYTES = 8 * 1024 * 1024

HIGH, MEDIUM = 0.75, 0.5  # score bounds of the confidence labels


@dataclass(frozen=True)
class Burst:
    """One burst from the device's side, with the packet-size figures the meter keeps."""

    start_ns: int
    end_ns: int
    bytes_out: int
    bytes_in: int
    pkts_out: int
    pkts_in: int = 0
    sq_out: int = 0  # sum of squared payload sizes sent; 0: not measured (stores before schema 11)
    large_out: int = 0  # payload packets of 1,200 bytes or more sent
    proto: int = 0  # 6 TCP, 17 UDP, 0 unknown


@dataclass(frozen=True)
class Upload:
    kind: str  # audio, video or unknown
    confidence: str  # high, medium, low
    score: float  # 0..1
    leaning: str  # the nearest shape (audio, video, image, bulk, or '' when none)
    reason: str
    seconds: float
    rate: float  # bytes out per second
    packet: float  # mean bytes out per packet
    per_second: float  # packets out per second


def label(score: float) -> str:
    return "high" if score >= HIGH else "medium" if score >= MEDIUM else "low"


def spread(b: Burst) -> float | None:
    """Coefficient of variation of the sizes the device sent, or None when not measured."""
    if not b.sq_out or b.pkts_out < 2:
        return None
    mean = b.bytes_out / b.pkts_out
    return math.sqrt(max(b.sq_out / b.pkts_out - mean * mean, 0.0)) / mean


def _voice(
    b: Burst, secs: float, rate: float, mean: float, pps: float, cv: float | None
) -> tuple[float, str]:
    """Score and wording of a voice shape (0 when it is not one)."""
    if secs < AUDIO_MIN_SECONDS or not VOICE_MIN_PPS <= pps <= VOICE_MAX_PPS or cv is None:
        return 0.0, ""
    if b.large_out > VOICE_MAX_LARGE * b.pkts_out:
        return 0.0, ""
    typical = VOICE_TYPICAL_PPS[0] <= pps <= VOICE_TYPICAL_PPS[1]
    if b.proto == UDP:
        kbits = max(rate - pps * RTP_OVERHEAD, 0.0) * 8 / 1000
        if cv <= CBR_MAX_CV and kbits * 1000 <= CBR_MAX_BITRATE:
            return (0.85 if typical else 0.6), f"frames of one size at {kbits:.0f} kbit/s: a voice codec"
        if kbits * 1000 <= VBR_MAX_BITRATE and mean <= VBR_MAX_PACKET:
            return (0.8 if typical else 0.6), f"small frames at {kbits:.0f} kbit/s: speech (Opus-like)"
        return 0.0, ""
    if b.bytes_out >= ONE_WAY * b.bytes_in and rate <= STREAM_MAX_RATE and cv <= STREAM_MAX_CV:
        return (0.75 if typical else 0.55), "chunks of nearly one size streamed one way: a spoken command"
    return 0.0, ""


def _video(b: Burst, secs: float, rate: float, mean: float, pps: float) -> tuple[float, str]:
    if secs < VIDEO_MIN_SECONDS or rate < VIDEO_MIN_RATE or mean < VIDEO_MIN_PACKET or pps < VIDEO_MIN_PPS:
        return 0.0, ""
    sure = secs >= VIDEO_SURE_SECONDS
    if b.proto == UDP:
        return (0.85 if sure else 0.65), "datagrams near the path limit, sustained at a video bit rate"
    if b.large_out >= TCP_VIDEO_MIN_LARGE * b.pkts_out and rate >= TCP_VIDEO_MIN_RATE:
        # a file over a slow uplink has this shape too: never high over TCP
        return (0.65 if sure else 0.55), "full segments sustained at a video bit rate (or a slow file upload)"
    return 0.0, ""


def classify_burst(b: Burst) -> Upload | None:
    """The probable content of one burst, or None when it is not an upload."""
    if b.bytes_out < MIN_UPLOAD or b.pkts_out == 0 or ONE_WAY * b.bytes_out < b.bytes_in:
        return None
    secs = max((b.end_ns - b.start_ns) / NS, 0.001)
    rate, mean, pps = b.bytes_out / secs, b.bytes_out / b.pkts_out, b.pkts_out / secs
    cv = spread(b)
    shape = (
        f"{b.bytes_out / 1024:.0f} KiB in {secs:.1f} s ({rate / 1000:.1f} kB/s, {mean:.0f}-byte packets"
        + (f" \u00b1{100 * cv:.0f} %" if cv is not None else "")
        + f", {pps:.0f}/s)"
    )
    guesses = [("audio", *_voice(b, secs, rate, mean, pps, cv)), ("video", *_video(b, secs, rate, mean, pps))]
    kind, score, why = max(guesses, key=lambda g: g[1])
    one_way = b.bytes_out >= ONE_WAY * b.bytes_in
    if score < MEDIUM:
        if not one_way:
            return None  # two-way and no call's media: an exchange, not an upload
        lean, score, why = "", 0.0, "no media shape fits"
        if b.large_out >= FILE_MIN_LARGE * b.pkts_out:
            score = 0.3
            if secs < VIDEO_MIN_SECONDS and b.bytes_out <= IMAGE_MAX_BYTES:
                lean, why = "image", "full segments in one short burst, like a photo or any file that size"
            else:
                lean, why = "bulk", "full segments, like a file; the shape cannot tell what it holds"
        elif cv is None:
            why = "packet sizes not measured (stored before schema 11: replay again to classify)"
        return Upload("unknown", "low", score, lean, f"{shape}: {why}", secs, rate, mean, pps)
    return Upload(kind, label(score), score, kind, f"{shape}: {why}", secs, rate, mean, pps)


def classify(
    start_ns: int, end_ns: int, bytes_out: int, bytes_in: int, pkts_out: int, **more: int
) -> Upload | None:
    """``classify_burst`` from the burst's columns by name (pkts_in, sq_out, large_out, proto)."""
    return classify_burst(Burst(start_ns, end_ns, bytes_out, bytes_in, pkts_out, **more))
