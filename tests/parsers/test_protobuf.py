"""Schema-less protobuf in the value walker: messages built by hand, and bytes that must not pass for one."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
import struct
import zlib

from parsers.detect import protobuf
from parsers.detect.persona import PersonaMatcher
from parsers.detect.scan import scan
from parsers.detect.values import leaves
from tests.support.pbwire import field

IMEI, EMAIL, PHONE = "861234567890127", "alice.w@example.com", "13800138000"


LOCATION = field(1, 39.90872) + field(2, 116.39747) + field(3, 12.5, wire=5)
DEVICE = (
    field(1, IMEI)
    + field(2, EMAIL)
    + field(3, LOCATION)
    + field(4, 1732012345678)
    + field(5, -67)
    + field(6, hashlib.sha256(PHONE.encode()).digest())
    + field(7, "tag-a")
    + field(7, "tag-b")
    + field(8, field(1, field(1, PHONE) + field(2, 3)))
    + field(9, 1234, wire=1)  # a fixed64 integer: its bits make a denormal double
    + field(20000, 1)  # a two... three-byte tag
)


def test_message_leaves_paths_and_values() -> None:
    got = {(leaf.path, leaf.key, leaf.value) for leaf in leaves(DEVICE)}
    assert ("$.pb:1", "", IMEI) in got and ("$.pb:2", "", EMAIL) in got
    assert {("$.pb:3.1", "", "39.90872"), ("$.pb:3.2", "", "116.39747"), ("$.pb:3.3", "", "12.5")} <= got
    assert ("$.pb:4", "", "1732012345678") in got and ("$.pb:5", "", "-67") in got
    assert ("$.pb:6", "", hashlib.sha256(PHONE.encode()).hexdigest()) in got  # bytes as hex
    assert {("$.pb:7", "", "tag-a"), ("$.pb:7", "", "tag-b")} <= got
    assert ("$.pb:8.1.1", "", PHONE) in got and ("$.pb:8.1.2", "", "3") in got
    assert ("$.pb:9", "", "1234") in got and ("$.pb:20000", "", "1") in got
    by_path = {leaf.path: leaf.parent for leaf in leaves(DEVICE)}
    assert by_path["$.pb:3.1"] == by_path["$.pb:3.2"] != by_path["$.pb:1"]  # siblings share a parent


def test_keyless_detectors_fire_on_protobuf_strings() -> None:
    hits = {(h.data_type, h.path, h.value) for h in scan(DEVICE)}
    assert ("imei", "$.pb:1", IMEI) in hits  # Luhn, without a key
    assert ("email", "$.pb:2", EMAIL) in hits
    assert ("phone", "$.pb:8.1.1", PHONE) in hits
    assert not any(t == "location" for t, _p, _v in hits)  # doubles without names are no coordinates


def test_hashed_persona_value_in_a_bytes_field() -> None:
    persona = PersonaMatcher({"phone": PHONE})
    hits = [h for h in scan(DEVICE, "", persona) if h.data_type == "persona:phone"]
    forms = {(h.path, h.detail["form"]) for h in hits}
    assert ("$.pb:6", "sha256(clear)") in forms and ("$.pb:8.1.1", "clear") in forms


def test_protobuf_inside_other_layers() -> None:
    wrapped = json.dumps({"payload": base64.b64encode(DEVICE).decode()}).encode()
    assert ("imei", "$.payload:b64.pb:1") in {(h.data_type, h.path) for h in scan(wrapped)}
    assert ("email", "$:z.pb:2") in {(h.data_type, h.path) for h in scan(gzip.compress(DEVICE))}
    # a gzip-compressed message inside a bytes field, and a JPEG in another
    outer = field(1, gzip.compress(field(1, EMAIL) + field(2, 7))) + field(2, b"\xff\xd8\xff\xe0" + bytes(60))
    got = {(leaf.path, leaf.value, leaf.media) for leaf in leaves(outer)}
    assert ("$.pb:1:z.pb:1", EMAIL, "") in got and ("$.pb:2", "", "image/jpeg") in got


def test_floats_and_extremes() -> None:
    m = field(1, 3.0e38, wire=5) + field(2, float("nan")) + field(3, 1e-300) + field(4, -0.000123, wire=5)
    values = {leaf.path: leaf.value for leaf in leaves(m)}
    assert values["$.pb:4"] == "-0.000123"  # float32 printed with the digits it holds, not 17
    for path in ("$.pb:1", "$.pb:2", "$.pb:3"):  # out of range or not finite: the integer the bits make
        assert values[path].isdigit(), values[path]
    assert {leaf.value for leaf in leaves(field(1, 2**64 - 1) + field(2, 0))} == {"-1", "0"}


def test_nesting_is_bounded() -> None:
    m = field(1, EMAIL)
    for _ in range(40):
        m = field(1, m) + field(2, 1)
    paths = [leaf.path for leaf in leaves(m)]
    assert paths and max(p.count(".") for p in paths) <= protobuf.MAX_NEST + 2


def test_not_protobuf() -> None:
    rng = random.Random(20241125)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack("!IIBBBBB", 64, 64, 8, 2, 0, 0, 0))
    png += _chunk(b"IDAT", zlib.compress(bytes(64 * 193))) + _chunk(b"IEND", b"")
    negatives = [
        json.dumps({"imei": IMEI, "lat": 39.9}).encode(),
        b"[1,2,3]",
        b"<xml><a>1</a></xml>",
        b"imei=861234567890127&lat=39.9",
        b"hello world, this is plain text\n",
        b"Hi",
        "设备上线 device online".encode(),
        png,
        gzip.compress(b"x" * 100),
        bytes(32),
        b"\xff" * 32,
    ]
    negatives += [rng.randbytes(n) for n in (256, 512, 1024, 4096) for _ in range(50)]
    for data in negatives:
        assert protobuf.message(data) is None, data[:20]
        assert not any(".pb:" in leaf.path for leaf in leaves(data)), data[:20]


def test_random_bytes_rarely_pass() -> None:
    """Short random bytes parse by chance now and then (two fields, exactly): bounded, and measured."""
    rng = random.Random(7)
    for size, most in ((16, 0.02), (64, 0.003), (256, 0.0005)):
        n = 20_000 if size < 256 else 4000
        passed = sum(protobuf.message(rng.randbytes(size)) is not None for _ in range(n))
        assert passed / n <= most, (size, passed)


def test_quick_rejection_of_text_bodies() -> None:
    """JSON, XML and most text fail on the first byte: ``{`` ``[`` ``<`` are wire types 3 and 4."""
    for head in b"{[<":
        assert head & 7 in (3, 4)
    assert protobuf.fields(b"{" + b"x" * 100) is None


def test_text_that_parses_is_text() -> None:
    # field 1 strings of 32-126 bytes: every byte of the message is printable, so it reads as text,
    # and the text still holds the values for the detectors
    m = field(1, EMAIL + " " * 20) + field(1, "x" * 40)
    assert protobuf.fields(m) is not None and protobuf.message(m) is None
    assert "email" in {h.data_type for h in scan(m)}


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack("!I", len(data)) + kind + data + struct.pack("!I", zlib.crc32(kind + data))
