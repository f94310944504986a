"""The detector path's shortcuts (issue 20, point 2) give what the plain code gives.

Each shortcut is checked against the plain code it stands for, written out here as it was:
the identifier loop over every leaf, the mobile-number pattern without its leading look-ahead,
the magic-byte loop without its first-byte test, the printable count byte by byte, the HTTP head
split and stripped as bytes, the header looked up by a scan of the list, HMAC-SHA256 computed
afresh for every value (RFC 2104, ``hmac.new``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.detect import identifiers, location, sieve, values
from parsers.detect.hits import Hit
from parsers.detect.identifiers import Shapes, cn_id_ok
from parsers.detect.values import MAGIC, MAX_LEAVES, Leaf, leaves, media_type
from parsers.protocols import http
from tests.parsers.test_detect_sieve import leaf as leaf_strategy

ALL_SHAPES = [Shapes(*flags) for flags in itertools.product((False, True), repeat=4)]
OLD_MOBILE = re.compile(r"(?<![A-Za-z0-9])(?:\+?86[- ]?)?(1[3-9]\d[- ]?\d{4}[- ]?\d{4})(?![A-Za-z0-9])")


@settings(max_examples=800, derandomize=True, deadline=None)
@given(
    st.text(alphabet="0123456789٣aF:-\n", max_size=80)
    | st.from_regex(r"[a:]?[0-9]{12,17}[a:-]?(?:[0-9a-f]{1,3}[:-][0-9a-g]{1,2})?[0-9]{0,15}", fullmatch=True)
)
def test_sieve_finds_digit_runs_and_hex_pairs_as_the_plain_patterns(text: str) -> None:
    """Whether a text has 15 digits in a row, or hex-pair, separator, hex-pair (a search from
    anywhere, as the patterns were)."""
    assert (sieve.DIGITS15.search(text) is not None) is (re.search(r"\d{15}", text) is not None)
    plain = re.search(r"[0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}", text) is not None
    assert (sieve.HEX_PAIR.search(text) is not None) is plain


def every_leaf(items: list[Leaf], shapes: Shapes) -> list[Hit]:
    """identifiers.find as it was: ``_leaf`` on every leaf."""
    signal = location.SIGNAL_KEYS
    scans = {x.parent for x in items if x.parent > 0 and x.key and location.norm(x.key) in signal}
    return [h for x in items for h in identifiers._leaf(x, x.parent in scans, shapes)]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(leaf_strategy, max_size=12))
def test_identifiers_skip_only_leaves_that_find_nothing(items: list[Leaf]) -> None:
    for shapes in ALL_SHAPES:
        assert identifiers.find(items, shapes) == every_leaf(items, shapes)


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.text(alphabet="0123456789+86- abX\n", max_size=60))
def test_mobile_pattern_matches_as_without_its_lookahead(text: str) -> None:
    new = identifiers.CN_MOBILE
    assert [m.span(1) for m in new.finditer(text)] == [m.span(1) for m in OLD_MOBILE.finditer(text)]
    assert new.findall(text) == OLD_MOBILE.findall(text)


def plain_media_type(data: bytes) -> str:
    for magic, offset, kind in MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return media_type(data) if kind in ("riff", "ftyp") else kind  # both branches read data[8:12]
    return ""


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.sampled_from([m for m, _o, _k in MAGIC] + [b"", b"x"]), st.integers(0, 40), st.binary(max_size=48))
def test_media_type_as_the_plain_loop(magic: bytes, offset: int, tail: bytes) -> None:
    data = (tail[:offset].ljust(offset, b"\0") + magic + tail)[:80]
    assert media_type(data) == plain_media_type(data)


def test_media_type_finds_each_magic_where_it_sits() -> None:
    # media_type's first test names the two magics not at offset 0: a new one needs adding there
    assert {(m, o) for m, o, _k in MAGIC if o} == {(b"ftyp", 4), (b"Speex   ", 28)}
    for magic, offset, kind in MAGIC:
        data = b"\0" * offset + magic + b"\0" * 40
        assert (media_type(data) != "") is (kind not in ("riff",)), magic  # RIFF needs its form type


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.binary(max_size=400))
def test_printable_count_as_byte_by_byte(data: bytes) -> None:
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in data[:256])
    head = data[:256]
    assert len(head) - len(head.translate(None, values.PRINTABLE)) == printable


def test_leaves_stop_at_the_limit() -> None:
    payload = ("[" + ",".join(str(i) for i in range(MAX_LEAVES + 5)) + "]").encode()
    got = list(leaves(payload))
    assert len(got) == MAX_LEAVES and got[-1].value == str(MAX_LEAVES - 1)


def bytes_head(data: bytes) -> tuple[bytes, list[tuple[str, str]]]:
    """The head's start line and headers as they were split: as bytes, then decoded."""
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    headers = []
    for line in lines[1 : http.MAX_HEADERS + 1]:
        name, colon, value = line.partition(b":")
        if colon:
            headers.append((name.strip().decode("latin-1"), value.strip().decode("latin-1")))
    return lines[0].strip(), headers


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from(list(b"aZ:;- \t\r\n\x0b\x0c\x1c\x1f\x85\xa0\xff")), max_size=120))
def test_head_split_as_bytes(chars: list[int]) -> None:
    block = bytes(chars).replace(b"\r\n\r\n", b"").replace(b"\n\n", b"")
    head, _end = http._head(block + b"\r\n\r\n", 0)
    assert head is not None
    assert (head.start, head.headers) == bytes_head(block)


def test_header_first_of_a_name_any_case() -> None:
    m = http.HttpMessage("1.1", [("X-A", "1"), ("x-a", "2"), ("Host", "h")])
    assert (m.header("x-A"), m.header("HOST"), m.header("none")) == ("1", "h", "")
    m.headers.append(("Late", "3"))  # a header added after the first lookup is found too
    assert m.header("late") == "3"


def test_digest_as_hmac_afresh() -> None:
    key = bytes(range(70))  # longer than SHA-256's block: hashed first, as RFC 2104 says
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    for value in (b"location\x0039.9,116.4", b"", b"imei\x00863909960308243"):
        h = keyed.copy()
        h.update(value)
        assert h.hexdigest() == hmac.new(key, value, hashlib.sha256).hexdigest()


def resident_id(born: dt.date) -> str:
    """A resident ID number born that day, its check character by GB 11643-1999's weights."""
    body = f"110105{born:%Y%m%d}001"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


@pytest.mark.parametrize(("days", "ok"), [(-1, True), (0, True), (1, False), (400, False)])
def test_resident_id_born_up_to_today(days: int, ok: bool) -> None:
    assert cn_id_ok(resident_id(dt.date.today() + dt.timedelta(days=days))) is ok
