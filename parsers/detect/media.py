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


def find_bytes(payload: bytes, path: str = "$", content_type: str = "") -> list[Hit]:
    """Media at the start of a body or of any multipart part."""
    hits: list[Hit] = []
    kind = media_type(payload)
    if kind:
        hits.append(_hit(kind, path, payload))
    m = BOUNDARY.search(content_type.encode("latin-1", "replace")) if content_type else None
    if m:
        for i, part in enumerate(payload.split(b"--" + m.group(1))):
            _head, sep, body = part.partition(b"\r\n\r\n")
            kind = media_type(body) if sep else ""
            if kind:
                hits.append(_hit(kind, f"{path}.part[{i}]", body))
    return hits


def _hit(kind: str, path: str, data: bytes) -> Hit:
    major = kind.split("/", 1)[0]
    return Hit(major, path, kind, HIGH, detail={"format": kind, "bytes": len(data)})


def find(leaves: Iterable[Leaf]) -> list[Hit]:
    """Media inside encoded values, and face-template-shaped float arrays (128 to 512 in one array)."""
    arrays: dict[int, list[Leaf]] = {}
    hits = []
    for leaf in leaves:
        if leaf.media:  # base64 or hex inside a value (a JSON "image": "/9j/4AAQ...")
            hits.append(Hit(leaf.media.split("/", 1)[0], leaf.path, leaf.media, HIGH,
                            detail={"format": leaf.media, "bytes": leaf.size}))  # fmt: skip
        elif not leaf.key and leaf.path.endswith("]") and FLOAT.match(leaf.value):
            arrays.setdefault(leaf.parent, []).append(leaf)
    for items in arrays.values():
        if 128 <= len(items) <= 512:
            path = items[0].path.rsplit("[", 1)[0]
            hits.append(
                Hit("face_template", path, f"{len(items)} floats", MEDIUM, detail={"dimensions": len(items)})
            )
    return hits
