"""Audio and video in RTP (RFC 3550): a camera's or a speaker's media stream, from one datagram.

Media sent over RTP has no magic bytes at the start of a body: what says "video" is an
RTP header whose payload starts an H.264 NAL unit (RFC 6184: a single NAL, STAP-A or
FU-A), or a static audio payload type (RFC 3551) carrying whole codec frames. One
datagram of a UDP flow (or one RTSP interleaved frame) is enough when the checks are
strict: random bytes pass the header one time in sixteen, so the payload must look like
the codec too: NAL types with the NRI an encoder sets, a slice header with a slice type
that exists (an I slice for IDR), parameter sets of known profiles and levels, an access
unit delimiter or SEI ending as their syntax does, audio in whole codec frames.
"""

from __future__ import annotations

from parsers.detect.hits import HIGH, MEDIUM, Hit

# static payload types of RFC 3551 carrying audio: the bytes of one frame, and the frames a packet holds
AUDIO: dict[int, tuple[str, int, int]] = {
    0: ("audio/pcmu", 40, 12),  # G.711 mu-law at 8 kHz: 5 ms is 40 bytes, 60 ms at most per packet
    8: ("audio/pcma", 40, 12),  # G.711 A-law
    9: ("audio/g722", 40, 12),  # 64 kbit/s: 8 bytes a millisecond too
    3: ("audio/gsm", 33, 3),  # 20 ms frames
    18: ("audio/g729", 10, 6),  # 10 ms frames
}
MP2T = 33  # MPEG-2 transport stream: whole 188-byte packets, each starting 0x47
H264_SINGLE = frozenset((1, 5, 6, 7, 8, 9))  # slices, IDR, SEI, SPS, PPS, access unit delimiter
H264_KEY = frozenset((5, 7, 8))  # IDR, SPS, PPS: the start of a decodable picture
MUST_REF = frozenset((5, 7, 8))  # nal_ref_idc is never 0 for these (H.264 7.4.1)
NO_REF = frozenset((6, 9))  # ... and always 0 for these
SPS_PROFILES = frozenset((66, 77, 88, 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135))
SPS_LEVELS = frozenset((9, 10, 11, 12, 13, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 52, 60, 61, 62))
RTCP_TYPES = range(72, 77)  # 200-204 with the marker bit: an RTCP packet, not RTP


def payload(datagram: bytes) -> tuple[int, bytes] | None:
    """(payload type, payload) of an RTP version 2 packet, or None when the header does not hold."""
    n = len(datagram)
    if n < 13 or datagram[0] >> 6 != 2:
        return None
    b0, pt = datagram[0], datagram[1] & 0x7F
    if pt in RTCP_TYPES:
        return None
    start = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:  # header extension: profile, length in 32-bit words
        if start + 4 > n:
            return None
        start += 4 + 4 * int.from_bytes(datagram[start + 2 : start + 4], "big")
    end = n
    if b0 & 0x20:  # padding: its count is the last byte
        pad = datagram[-1]
        if pad == 0:
            return None
        end -= pad
    if start >= end:
        return None
    return pt, datagram[start:end]


def find(datagram: bytes, path: str = "rtp") -> Hit | None:
    """A video or audio hit for an RTP datagram carrying H.264 or a static audio codec; else None."""
    parsed = payload(datagram)
    if parsed is None:
        return None
    pt, body = parsed
    if pt in AUDIO:
        kind, frame, most = AUDIO[pt]
        if datagram[0] & 0x1F or len(body) % frame or len(body) > most * frame:
            return None  # no CSRC nor extension (phones and cameras send none), whole frames, 60 ms at most
        detail = {"format": kind, "payload_type": pt, "bytes": len(body)}
        return Hit("audio", path, kind, MEDIUM, detail=detail)
    if pt == MP2T:
        if len(body) % 188 or any(body[i] != 0x47 for i in range(0, len(body), 188)):
            return None
        return Hit("video", path, "video/mp2t", HIGH, detail={"format": "video/mp2t", "payload_type": pt})
    if pt < 96:
        return None
    nal = h264_nal(body)
    if nal is None:
        return None
    confidence = HIGH if nal in H264_KEY else MEDIUM
    detail = {"format": "video/h264", "payload_type": pt, "nal": nal, "bytes": len(body)}
    return Hit("video", path, "video/h264", confidence, detail=detail)


def h264_nal(body: bytes) -> int | None:
    """The H.264 NAL type an RTP payload carries (inside STAP-A or FU-A too), None if it is not one."""
    head = body[0]
    if head & 0x80:
        return None  # forbidden_zero_bit
    nal = head & 0x1F
    if nal == 28:  # FU-A: FU header S, E, R bits and the fragment's own type
        if len(body) < 3:
            return None
        fu = body[1]
        if fu & 0x20 or fu & 0xC0 == 0xC0:
            return None  # reserved bit, or start and end of one fragment (a single NAL needs no FU)
        inner = (head & 0xE0) | (fu & 0x1F)
        if fu & 0x1F not in (1, 5) or (fu & 0x1F == 5 and not inner & 0x60):  # an IDR has NRI
            return None
        return fu & 0x1F if not fu & 0x80 or _nal_ok(inner, body[2:]) else None  # a start: its slice header
    if nal == 24:  # STAP-A: 16-bit sizes, each followed by that NAL, filling the payload exactly
        pos, first = 1, None
        while pos < len(body):
            size = int.from_bytes(body[pos : pos + 2], "big")
            unit = body[pos + 2 : pos + 2 + size]
            if size == 0 or len(unit) < size or not _nal_ok(unit[0], unit[1:]):
                return None
            if first is None or (first not in H264_KEY and unit[0] & 0x1F in H264_KEY):
                first = unit[0] & 0x1F  # the first parameter set or IDR, else the first unit
            pos += 2 + size
        return first
    if len(body) < 2 or not _nal_ok(head, body[1:]):
        return None
    return nal


def _nal_ok(head: int, rest: bytes) -> bool:
    """A whole NAL an encoder writes: its header, and the start (or end) its type's syntax fixes."""
    nal, ref = head & 0x1F, head & 0x60
    if head & 0x80 or nal not in H264_SINGLE or (nal in MUST_REF and not ref) or (nal in NO_REF and ref):
        return False
    if nal in (1, 5):
        return _slice_ok(rest, nal == 5)
    if nal == 7:  # profile, constraint flags (two reserved zero bits), level
        return 3 <= len(rest) <= 255 and rest[0] in SPS_PROFILES and not rest[1] & 3 and rest[2] in SPS_LEVELS
    if nal == 8:  # pic_parameter_set_id, seq_parameter_set_id; a few bytes ending in the stop bit
        pps, bit = _ue(rest, 0)
        sps, _bit = _ue(rest, bit)
        return len(rest) <= 63 and rest[-1:] != b"\x00" and 0 <= pps <= 255 and 0 <= sps <= 31
    if nal == 9:  # access unit delimiter: primary_pic_type, then the stop bit
        return len(rest) == 1 and rest[0] & 0x1F == 0x10
    return rest[-1:] == b"\x80"  # SEI: whole messages, then the byte-aligned stop bit


def _slice_ok(rest: bytes, idr: bool) -> bool:
    """first_mb_in_slice, slice_type (I or SI in an IDR), pic_parameter_set_id: a slice header's start."""
    first_mb, bit = _ue(rest, 0)
    kind, bit = _ue(rest, bit)
    pps, bit = _ue(rest, bit)
    return first_mb >= 0 and 0 <= kind <= 9 and (not idr or kind % 5 in (2, 4)) and 0 <= pps <= 255


def _ue(data: bytes, bit: int) -> tuple[int, int]:
    """The Exp-Golomb code at ``bit``: (value, next bit); -1 past the end or over 24 leading zeros."""
    zeros, end = 0, min(len(data), 16) * 8
    while bit < end and not data[bit >> 3] >> (7 - (bit & 7)) & 1:
        zeros += 1
        bit += 1
    if zeros > 24 or bit + 1 + zeros > end:
        return -1, bit
    value = 0
    for i in range(bit + 1, bit + 1 + zeros):
        value = value << 1 | (data[i >> 3] >> (7 - (i & 7)) & 1)
    return (1 << zeros) - 1 + value, bit + 1 + zeros
