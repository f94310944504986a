"""The whole-payload sieve (``parsers.detect.sieve``) and the persona values' trie change no hit.

The oracle is the detectors as they ran before the sieve: every family over every leaf, the
persona's values sought with one alternation of them all, longest first (written out here).
Gated and ungated must give the same hits, field for field and in the same order, on every
payload of the lab capture, on payloads of the detector-heavy generator, and on leaves Hypothesis
builds from the characters and keys the detectors look for.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

import dpkt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers.detect import identifiers, location, media, records
from parsers.detect.hits import Hit
from parsers.detect.persona import PersonaMatcher, variants_pattern
from parsers.detect.scan import scan, scan_leaves
from parsers.detect.values import Leaf, leaves
from pcaps.synth.detect_payloads import message
from pcaps.synth.generate_detect import personas
from tests.support.paths import ROOT

LAB = ROOT / "pcaps" / "lab" / "lab.pcapng"
PERSONA = {"imei": "863909960308243", "serial": "SND439536B32", "phone": "+86 139 0013 9000",
           "email": "wang.fang@example.com", "name": "Wang Fang", "mac": "a4:50:46:12:34:56"}  # fmt: skip


def alternation(persona: PersonaMatcher) -> PersonaMatcher:
    """The same persona, its values sought as before the trie: one alternation, longest first."""
    old = PersonaMatcher({})
    old.variants, old.home = persona.variants, persona.home
    keys = sorted(persona.variants, key=len, reverse=True)
    old.pattern = re.compile("|".join(re.escape(k) for k in keys), re.IGNORECASE)
    return old


def ungated_leaves(items: list[Leaf], persona: PersonaMatcher | None) -> list[Hit]:
    hits = location.find(items) + identifiers.find(items) + records.find(items) + media.find(items)
    if persona is not None:
        hits += alternation(persona).find(items)
    return dedupe(hits)


def ungated(payload: bytes, content_type: str, persona: PersonaMatcher | None) -> list[Hit]:
    if not payload:
        return []
    return dedupe(
        media.find_bytes(payload, "$", content_type) + ungated_leaves(list(leaves(payload)), persona)
    )


def dedupe(hits: list[Hit]) -> list[Hit]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for h in hits:
        if (h.data_type, h.path, h.value) not in seen:
            seen.add((h.data_type, h.path, h.value))
            out.append(h)
    return out


def lab_payloads() -> Iterator[bytes]:
    """Every TCP and UDP payload of the lab capture (HTTP with its head, MQTT, CoAP, DNS, TLS...), and
    the bodies, queries and JSON inside them."""
    with open(LAB, "rb") as fh:
        for _ts, buf in dpkt.pcapng.Reader(fh):
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            while isinstance(ip, dpkt.ethernet.Ethernet | dpkt.ip.IP | dpkt.ip6.IP6) and not isinstance(
                ip.data, dpkt.tcp.TCP | dpkt.udp.UDP
            ):
                ip = ip.data
            l4 = getattr(ip, "data", None)
            if isinstance(l4, dpkt.tcp.TCP | dpkt.udp.UDP) and l4.data:
                data = bytes(l4.data)
                yield data
                # and what the dissectors hand the detectors: an HTTP body and query, a publish's JSON
                head, sep, body = data.partition(b"\r\n\r\n")
                if sep and body:
                    yield body
                line = head.split(b"\r\n", 1)[0]
                if b"?" in line:
                    yield line.split(b"?", 1)[1].rsplit(b" ", 1)[0]
                if b"{" in data[:64] and not sep:
                    yield data[data.index(b"{") :]


def test_lab_payloads_give_the_same_hits() -> None:
    persona = PersonaMatcher(PERSONA)
    n = found = 0
    for payload in lab_payloads():
        for p in (None, persona):
            got = scan(payload, "", p)
            assert got == ungated(payload, "", p), payload[:200]
            found += len(got)
        n += 1
    assert n > 1000 and found > 100  # the lab sends personal data in clear: the comparison saw hits


def test_generated_payloads_give_the_same_hits() -> None:
    rng = random.Random(7)
    people = personas(rng)
    types: set[str] = set()
    for i in range(1500):
        person = people[i % len(people)]
        bench_persona = {k: v for k, v in person.items() if k != "mobile"} | {"phone": person["mobile"]}
        persona = PersonaMatcher(bench_persona)
        form = ("json", "query", "form", "protobuf", "text")[i % 5]
        m = message(rng, person, form, 1_700_000_000_000 + i)
        got = scan(m.body, "", persona)
        assert got == ungated(m.body, "", persona), m.body
        types |= {h.data_type for h in got}
    assert {"imei", "phone", "email", "location", "persona:imei", "health:steps"} <= types


KEYS = sorted(location.ANY_NAME | set().union(*identifiers.KEYS.values(), *records.HEALTH.values())
              | media.AUDIO_KEYS | {"ts", "note", "apps", "Heart-Rate", "au_dio"})  # fmt: skip
ALPHABET = "0123456789abcdefABCDEF:-@.,;| $GPRMCN\nXx+_com"
value = st.text(alphabet=ALPHABET, max_size=60) | st.sampled_from(
    ["13912345678", "+86 139-1234-5678", "863909960308243", "89860012345678901234", "a4:50:46:12:34:56",
     "a4:50:46:12:34:56,-61;b4:50:46:12:34:57,-70", "$GPGGA,123519,4807.038,N,01131.000,E,1,08",
     "39.908720,116.397470", "com.tencent.mm", "wang.fang@example.com", "Wang Fang", "0.125",
     "BEGIN:VCARD\nTEL:13912345678\nEND:VCARD", "11010519491231002X"]
)  # fmt: skip
leaf = st.builds(
    lambda k, v, parent, media_: Leaf(f"$.{k}" if k else "$[0]", k, v, parent, media_),
    st.just("") | st.sampled_from(KEYS), value | st.from_regex(r"1[3-9]\d{9}", fullmatch=True),
    st.sampled_from([-1, 1, 2]), st.sampled_from(["", "", "", "image/jpeg"]),
)  # fmt: skip


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(leaf, max_size=14), st.booleans())
def test_any_leaves_give_the_same_hits(items: list[Leaf], with_persona: bool) -> None:
    persona = PersonaMatcher(PERSONA) if with_persona else None
    assert scan_leaves(items, persona) == ungated_leaves(items, persona)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.lists(st.text(alphabet="abSsſkK0123.@", min_size=1, max_size=8), min_size=1, max_size=12),
    st.text(alphabet="abSsſkK0123.@ ", max_size=80),
)
def test_trie_matches_what_the_alternation_matches(variants: list[str], text: str) -> None:
    """Leftmost, then longest: the same spans, also where two branches fold to one letter (s, ſ)."""
    variants = sorted({v.lower() for v in variants})
    old = re.compile("|".join(re.escape(k) for k in sorted(variants, key=len, reverse=True)), re.IGNORECASE)
    new = variants_pattern(variants)
    assert [m.span() for m in new.finditer(text)] == [m.span() for m in old.finditer(text)]


@pytest.mark.parametrize(
    ("variants", "pattern"), [(["abc", "abd", "ab"], "ab(?:(?:c|d))?"), (["sx", "ſxy"], "ſxy|sx")]
)
def test_trie_shape(variants: list[str], pattern: str) -> None:
    """A trie where branches differ; the alternation itself where two branches fold together."""
    assert variants_pattern(variants).pattern == pattern


def _numbers(n: int) -> list[Leaf]:
    return [Leaf(f"$.c[{i}]", "", f"1390000{i:04d}", 1) for i in range(n)]


def _packages(n: int) -> list[Leaf]:
    return [Leaf(f"$.a[{i}]", "", f"com.vendor{i}.app", 1) for i in range(n)]


def _floats(n: int) -> list[Leaf]:
    return [Leaf(f"$.v[{i}]", "", f"0.{i + 1}", 1) for i in range(n)]


@pytest.mark.parametrize(
    "items",
    [_numbers(4), _numbers(5), _packages(4), _packages(5), _floats(127), _floats(128),
     [Leaf("$.location", "location", "116.481488,39.990464", 1)],
     [Leaf("$.bts", "bts", "460,0,4189,12345,-70", 1)],
     [Leaf("$.wifi", "note", "a4:50:46:12:34:56,-61|b4:50:46:12:34:57,-70", 1)],
     [Leaf("$.n", "note", "$BDGGA,123519,4807.038,N,01131.000,E,1,08", 1)],
     [Leaf("$.au", "Audio", "A" * 300, 1)], [Leaf("$.v", "v", "", 1, "image/png", 10)]],
)  # fmt: skip
def test_lists_and_keys_at_their_thresholds(items: list[Leaf]) -> None:
    """Lists that count from five (contacts, apps) or 128 (face templates), and one key or text each."""
    assert scan_leaves(items) == ungated_leaves(items, None)


@pytest.mark.parametrize(
    ("value", "kind"),
    [("863909960308243", "imei"), ("460001234567891", "imsi"), ("89860012345678901238", "iccid"),
     ("11010519491231002X", "cn_id"), ("a4:50:46:12:34:56", "mac"), ("13912345678", "phone"),
     ("a@b.cn", "email")],
)  # fmt: skip
def test_identifiers_as_short_as_their_shape(value: str, kind: str) -> None:
    """A value that is only the identifier, under a key that names nothing: found (the per-value
    length checks let the shortest through). The IMSI fails Luhn (else it reads as an IMEI), the
    ICCID passes it."""
    assert [h.data_type for h in scan_leaves([Leaf("$.note", "note", value, 1)])] == [kind]


def test_persona_value_as_short_as_its_shortest_variant() -> None:
    persona = PersonaMatcher(PERSONA)
    shortest = min(persona.variants, key=len)
    items = [Leaf("$.a", "note", shortest.upper(), 1), Leaf("$.b", "note", shortest[:-1], 1)]
    got = scan_leaves(items, persona)
    assert [h.path for h in got if h.data_type.startswith("persona:")] == ["$.a"]
    assert got == ungated_leaves(items, persona)
