"""Media and biometric data in payloads: images, audio, video by their magic bytes, and face templates.

A body (or a multipart part, or a base64 value the value walker opened) that starts
with a known magic is media of that type; a JSON array of 128 to 512 floats is the
shape of a face embedding (FaceNet 128, ArcFace 512), which must not leave a lock or
a camera without separate consent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from parsers.detect.hits import HIGH, MEDIUM, Hit
from parsers.detect.values import Leaf, media_type

FLOAT = re.compile(r"^-?\d*\.\d+(?:[eE]-?\d+)?$")
BOUNDARY = re.compile(rb"boundary=\"?([^\";\r\n]+)")
# audio without a container (raw PCM, bare codec frames: iFlytek's speech API takes base64 PCM under
# "audio") has no magic: a long base64 or hex blob under an audio key, maybe behind "data:...;base64,"
AUDIO_KEYS = frozenset(("audio", "voice", "speech", "pcm", "audiodata", "voicedata", "sound"))
BLOB = re.compile(r"^(?:[\w.+/;:-]{1,40}[:,])?[A-Za-z0-9+/_-]{256,}={0,2}$")


def find_bytes(payload: bytes, path: str = "$", content_type: str = "") -> list[Hit]:
    """Media at the start of a body or of any multipart part."""
    hits: list[Hit] = []
    kind = media_type(payload)
    if kind:
        hits.append(_hit(kind, path, payload))
    m = BOUNDARY.search(content_type.encode("latin-1", "replace")) if content_type else None
    if m:
        for i, part in enumerate(multipart_parts(payload, m.group(1)), 1):
            _head, sep, body = part.partition(b"\r\n\r\n")
            kind = media_type(body) if sep else ""
            if kind:
                hits.append(_hit(kind, f"{path}.part[{i}]", body))
    return hits


def multipart_parts(body: bytes, boundary: bytes) -> list[bytes]:
    """The parts of a multipart body, headers and content, in order (numbered from 1 in paths).

    RFC 2046 section 5.1.1: a delimiter is CRLF "--" boundary, so the line break before the next
    boundary belongs to the delimiter, not to the part before it: a part's content is exactly
    what was sent. The first delimiter may open the body without a CRLF; after a delimiter come
    optional transport padding and a CRLF; the close delimiter ("--" boundary "--") ends the
    parts, and the preamble before the first and the epilogue after the last are none. A part
    cut short by the capture keeps what arrived.
    """
    pieces = (b"\r\n" + body).split(b"\r\n--" + boundary)
    parts = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):  # the close delimiter
            break
        _padding, crlf, part = piece.partition(b"\r\n")
        if crlf:
            parts.append(part)
    return parts


def _hit(kind: str, path: str, data: bytes) -> Hit:
    major = kind.split("/", 1)[0]
    return Hit(major, path, kind, HIGH, detail={"format": kind, "bytes": len(data)})


def find(leaves: Iterable[Leaf]) -> list[Hit]:
    """Media inside encoded values, and face-template-shaped float arrays (128 to 512 in one array)."""
    arrays: dict[int, list[Leaf]] = {}
    hits, blobs = [], []
    for leaf in leaves:
        if leaf.media:  # base64 or hex inside a value (a JSON "image": "/9j/4AAQ...")
            hits.append(Hit(leaf.media.split("/", 1)[0], leaf.path, leaf.media, HIGH,
                            detail={"format": leaf.media, "bytes": leaf.size}))  # fmt: skip
        elif not leaf.key and leaf.path.endswith("]") and FLOAT.match(leaf.value):
            arrays.setdefault(leaf.parent, []).append(leaf)
        elif leaf.key.lower().replace("_", "") in AUDIO_KEYS and BLOB.match(leaf.value):
            blobs.append(leaf)
    for items in arrays.values():
        if 128 <= len(items) <= 512:
            path = items[0].path.rsplit("[", 1)[0]
            hits.append(
                Hit("face_template", path, f"{len(items)} floats", MEDIUM, detail={"dimensions": len(items)})
            )
    decoded = {h.path.rsplit(":", 1)[0] for h in hits}  # a blob that opened to known media is that media
    hits += [Hit("audio", x.path, "audio blob", MEDIUM, detail={"format": "unknown", "chars": len(x.value)})
             for x in blobs if x.path not in decoded]  # fmt: skip
    return hits
