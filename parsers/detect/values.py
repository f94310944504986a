"""Payload bytes to (path, value) leaves, through the layers devices wrap data in.

Detectors look at values with their field names, not at raw bytes: a latitude is a
number under a key like ``lat``. This walks JSON (numbers kept as their text, so the
decimals a device sent are not lost), form and query encoding, simple XML, schema-less
protobuf and plain text; and it opens the layers found inside values: base64, hex,
gzip/deflate, each bounded in size and depth so a hostile payload cannot make it loop
or explode.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl

from parsers.detect import protobuf

MAX_DEPTH = 4  # layers opened inside one another (base64 in JSON in gzip...)
MAX_BYTES = 1 << 20  # decoded bytes per layer
MAX_LEAVES = 20_000  # values per payload
B64 = re.compile(rb"^[A-Za-z0-9+/_-]{16,}={0,2}$")
HEX = re.compile(rb"^(?:[0-9a-fA-F]{2}){12,}$")
FORM = re.compile(rb"^[\w.%+\-\[\]]+=[^&]*(?:&[\w.%+\-\[\]]+=[^&]*)*$")
XML_LEAF = re.compile(rb"<([A-Za-z_][\w.\-]*)(?:\s[^>]*)?>([^<]{1,512})</\1>")
# numbers kept as their text (one decoder for every payload: json.loads makes one per call)
_JSON = json.JSONDecoder(parse_float=str, parse_int=str)
# readable runs of binary data: four characters or more with no control byte nor undecodable one
RUN = re.compile(r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]{4,}")


@dataclass(slots=True)
class Leaf:
    """One value: ``path`` names it (``$.loc.lat``, ``form:lat``), ``key`` is its last name."""

    path: str
    key: str
    value: str  # numbers as sent ("39.908720"), strings decoded
    parent: int  # id of the object the value sits in: siblings share it (lat next to lon)
    media: str = ""  # a base64 or hex value that decoded to media: its type (image/jpeg...)
    size: int = 0  # and its decoded size


@dataclass(slots=True)
class Layer:
    """A decoded body and what it was wrapped in (``gzip``, ``base64``...)."""

    path: str
    data: bytes
    how: str


def leaves(payload: bytes, path: str = "$", depth: int = 0) -> Iterator[Leaf]:
    """Every value in a payload, opening nested encodings up to MAX_DEPTH (the first MAX_LEAVES: the
    walk stops there)."""
    return islice(_leaves(payload, path, depth), MAX_LEAVES)


def _leaves(payload: bytes, path: str, depth: int) -> Iterator[Leaf]:
    data = unwrap(payload)
    if data is not payload:
        yield from _leaves(data, path + ":z", depth + 1) if depth < MAX_DEPTH else iter(())
        return
    found = protobuf.message(data)  # before strip(): a message may start or end with a tab or LF byte
    if found is not None:
        yield from _protobuf(data, found, path, depth)
        return
    body = data.strip()
    if body[:1] in (b"{", b"["):
        try:
            doc = _JSON.decode(body.decode("utf-8", "replace"))  # the text starts with { or [: no BOM
        except (ValueError, RecursionError):
            doc = None
        if doc is not None:
            yield from _json(doc, path, depth, id(doc))
            return
    if body[:1] == b"<":
        for m in XML_LEAF.finditer(body[:MAX_BYTES]):
            key = m.group(1).decode("ascii", "replace")
            yield from _value(f"{path}.xml:{key}", key, m.group(2).decode("utf-8", "replace"), depth, -1)
        return
    if FORM.match(body[:4096]) and b"=" in body:
        parent = id(body)
        for k, v in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            yield from _value(f"{path}.form:{k}", k, v, depth, parent)
        return
    text = body.decode("utf-8", "replace")
    if not protobuf.is_text(body):  # binary: its readable runs, as ``strings`` prints them (detectors
        text = "\n".join(RUN.findall(text))  # cost by the character, and most of binary reads as none)
    if text:
        yield Leaf(path, "", text, -1)


def _json(doc: Any, path: str, depth: int, parent: int) -> Iterator[Leaf]:
    stack: list[tuple[Any, str, int]] = [(doc, path, parent)]
    while stack:
        node, p, _par = stack.pop()
        if isinstance(node, dict):
            me = id(node)
            for k, v in node.items():
                if isinstance(v, dict | list):
                    stack.append((v, f"{p}.{k}", me))
                else:
                    text = "" if v is None else str(v)
                    if len(text) < 16:  # too short to be another layer: the leaf alone (as _value has it)
                        yield Leaf(f"{p}.{k}", str(k), text, me)
                    else:
                        yield from _value(f"{p}.{k}", str(k), text, depth, me)
        elif isinstance(node, list):
            me = id(node)
            for i, v in enumerate(node):
                if isinstance(v, dict | list):
                    stack.append((v, f"{p}[{i}]", me))
                else:
                    text = "" if v is None else str(v)
                    if len(text) < 16:
                        yield Leaf(f"{p}[{i}]", "", text, me)
                    else:
                        yield from _value(f"{p}[{i}]", "", text, depth, me)


def _value(path: str, key: str, value: str, depth: int, parent: int) -> Iterator[Leaf]:
    yield Leaf(path, key, value, parent)
    if depth >= MAX_DEPTH or len(value) < 16:
        return
    raw = value.encode("latin-1", "replace") if value.isascii() else b""
    inner = decode_layer(raw) if raw else None
    if inner is not None:
        kind = media_type(inner.data)
        if kind:
            yield Leaf(f"{path}:{inner.how}", key, "", parent, kind, len(inner.data))
        else:
            yield from _leaves(inner.data, f"{path}:{inner.how}", depth + 1)
    elif value[:1] in ("{", "[") or "=" in value:  # JSON or a query string inside a string
        yield from _leaves(value.encode("utf-8", "replace"), path, depth + 1)


def _protobuf(data: bytes, found: list[protobuf.Field], path: str, depth: int) -> Iterator[Leaf]:
    """A protobuf message's scalars, keyless (the wire format has no names): ``$.pb:1.3.2``."""
    for p, parent, value in protobuf.walk(data, found, f"{path}.pb:", id(data)):
        if isinstance(value, str):
            yield from _value(p, "", value, depth, parent)
            continue
        kind = media_type(value)
        inner = unwrap(value)
        if kind:
            yield Leaf(p, "", "", parent, kind, len(value))
        elif inner is not value and depth < MAX_DEPTH:
            yield from _leaves(inner, p + ":z", depth + 1)
        elif len(value) <= 64:  # a hash or a binary id: as hex, the form hashed persona values are sought in
            yield Leaf(p, "", value.hex(), parent)


def unwrap(data: bytes) -> bytes:
    """gzip or zlib content decoded (bounded); anything else as it is."""
    if data[:2] == b"\x1f\x8b" or (len(data) > 2 and data[0] == 0x78 and data[1] in (0x01, 0x5E, 0x9C, 0xDA)):
        try:
            d = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
            out = d.decompress(data, MAX_BYTES)
        except zlib.error:
            return data
        return out if out else data
    return data


def decode_layer(raw: bytes) -> Layer | None:
    """A string value that is base64 or hex of something readable (text, JSON, gzip, media)."""
    if HEX.match(raw):
        try:
            out = binascii.unhexlify(raw)
        except binascii.Error:
            return None
        return Layer("", out, "hex") if _worth_opening(out) else None
    if B64.match(raw) and len(raw) % 4 in (0, 2, 3):
        try:
            pad = raw + b"=" * (-len(raw) % 4)
            out = base64.urlsafe_b64decode(pad) if (b"-" in raw or b"_" in raw) else base64.b64decode(pad)
        except (binascii.Error, ValueError):
            return None
        return Layer("", out[:MAX_BYTES], "b64") if _worth_opening(out) else None
    return None


def _worth_opening(out: bytes) -> bool:
    """Decoded bytes are another layer if they are text, JSON, compressed or a known media type."""
    if not out:
        return False
    if out[:2] == b"\x1f\x8b" or out[:1] in (b"{", b"[", b"<") or media_type(out):
        return True
    if protobuf.message(out) is not None:
        return True
    head = out[:256]
    printable = len(head) - len(head.translate(None, PRINTABLE))  # the printable bytes, counted in C
    return printable >= 0.95 * min(len(out), 256)


PRINTABLE = bytes([9, 10, 13, *range(32, 127)])  # ASCII text: tab, line feed, carriage return, space to ~


def media_type(data: bytes) -> str:
    """image/..., audio/... or video/... by magic bytes; '' when none matches."""
    if data[:1] not in MAGIC_FIRST and data[4:8] != b"ftyp" and data[28:36] != b"Speex   ":
        return ""  # no magic can match: most values are not media
    for magic, offset, kind in MAGIC:
        if data[offset : offset + len(magic)] == magic:
            if kind == "riff":
                return {b"WAVE": "audio/wav", b"WEBP": "image/webp", b"AVI ": "video/avi"}.get(data[8:12], "")
            if kind == "ftyp":
                brand = data[8:12]
                if brand in (b"heic", b"heix", b"mif1", b"msf1", b"avif"):
                    return "image/heic"
                if brand[:3] in (b"M4A",) or brand == b"M4B ":
                    return "audio/mp4"
                return "video/mp4"
            return kind
    return ""


MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF8", 0, "image/gif"),
    (b"RIFF", 0, "riff"),
    (b"ftyp", 4, "ftyp"),
    (b"#!AMR", 0, "audio/amr"),
    (b"OggS", 0, "audio/ogg"),
    (b"Speex   ", 28, "audio/speex"),
    (b"ID3", 0, "audio/mpeg"),
    (b"\xff\xfb", 0, "audio/mpeg"),
    (b"\xff\xf3", 0, "audio/mpeg"),
    (b"\xff\xf1", 0, "audio/aac"),
    (b"\xff\xf9", 0, "audio/aac"),
    (b"\x00\x00\x00\x01\x67", 0, "video/h264"),
    (b"\x00\x00\x01\xb3", 0, "video/mpeg"),
)
# the first bytes of the magics at offset 0 (the others, ftyp and Speex, are tested where they sit)
MAGIC_FIRST = frozenset(magic[:1] for magic, offset, _kind in MAGIC if offset == 0)
