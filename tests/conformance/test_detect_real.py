"""Content detectors on real captures: what devices upload in nDPI's and IoT-Sentinel's traces.

nDPI's captures hold no personal data in what clients send over the protocols tapaudit
dissects (HTTP, MQTT, CoAP, RTSP, WebSocket): no hit of medium or high confidence may
appear there. The first bytes of flows of other protocols (``raw`` records) do hold some:
mail addresses in SMTP and POP3, SIP addresses, RADIUS identities, RTP calls. Each capture
and data type found there is listed in ``NDPI_RAW`` with what the bytes are; anything
else fails. IoT-Sentinel's setup captures do hold some, sent in clear by the devices
themselves: their own MAC addresses (as ``mac`` or as a ``serialNumber``) and the
tester's account e-mail. Every hit there must be one of those, checked against the
capture's own link-layer addresses, never a number that only looks like one.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import dpkt
import pytest

from parsers.detect.hits import Hit
from parsers.detect.scan import scan
from parsers.events import AppRecord, HttpRecord
from parsers.protocols import rtp
from tests.support.paths import shared_path
from tests.support.sessionrun import run_sessions

TESTER_ACCOUNTS = {"mmietti.work@outlook.com"}  # the study's own account, in the devices' setup calls
# (capture, data type) found in raw records of nDPI's captures -> what the bytes are
NDPI_RAW = {
    ("smtp.pcap", "email"): "SMTP in clear: MAIL FROM, RCPT TO and the addresses in the message",
    ("emotet.pcap", "email"): "Emotet mailing over SMTP (587) with a stolen account: MAIL FROM, RCPT TO",
    ("pop3.pcap", "email"): "POP3 USER: the mailbox's address (PASS follows in clear)",
    ("443-opvn.pcap", "email"): "OpenVPN over TCP: its CA certificate's emailAddress",
    ("fastcgi.pcap", "email"): "FastCGI params: SERVER_ADMIN, the web server admin's address",
    ("h323.pcap", "email"): "H.225 SETUP: the caller's email-ID alias",
    ("fuzz-2006-09-29-28586.pcap", "email"): "MMS over HTTP, fuzzed past parsing: number@domain addresses",
    ("sip.pcap", "email"): "SIP REGISTER and INVITE: the caller's and callee's SIP addresses (user@domain)",
    ("FAX-Call-t38-CA-TDM-SIP-FB-1.pcap", "email"): "SIP INVITE: the callee's SIP address",
    ("fuzz-2020-02-16-11740.pcap", "email"): "RADIUS (fuzzed): EAP-SIM/AKA identities, IMSI@3GPP realm",
    ("fuzz-2020-02-16-11740.pcap", "mac"): "RADIUS: Calling-Station-Id, the Wi-Fi client's MAC address",
    ("steam.pcapng", "mac"): "Steam's LAN discovery broadcast: the host's MAC address",
    ("sip.pcap", "audio"): "the call itself: RTP, G.711 A-law",
    ("FAX-Call-t38-CA-TDM-SIP-FB-1.pcap", "audio"): "the call's RTP, G.711 A-law, before T.38 takes over",
    ("false_positives.pcapng", "audio"): "two RTP streams of G.711 A-law",
    # the one shape without the substance: Celery names its workers celery@<host> (AMQP heartbeat)
    ("amqp.pcap", "email"): "AMQP: a Celery worker's node name, celery@test.cognitonetworks.com",
}


def uploads(pcap: Path) -> list[tuple[bytes, str, str]]:
    """What clients sent (body, content type, carrier): HTTP request queries and bodies, payloads up."""
    out: list[tuple[bytes, str, str]] = []
    for r in run_sessions(pcap).records:
        if isinstance(r, HttpRecord) and r.up:
            out.append((r.msg.query.encode(), "", "http"))  # type: ignore[union-attr]
            out.append((r.msg.body, r.msg.header("content-type"), "http"))
        elif isinstance(r, AppRecord) and r.up and r.payload:
            out.append((r.payload, "", f"{r.protocol}.{r.kind}"))
    return [(b, ct, carrier) for b, ct, carrier in out if b]


def scan_upload(body: bytes, ct: str, carrier: str) -> list[Hit]:
    """The hits the observer finds: every detector, and RTP media in datagrams and interleaved frames."""
    hits = scan(body, ct)
    media = rtp.find(body) if carrier in ("raw.udp", "rtsp.interleaved") else None
    return [*hits, media] if media is not None else hits


def hits_of(pcap: Path) -> list[Hit]:
    return [h for b, ct, c in uploads(pcap) for h in scan_upload(b, ct, c) if h.confidence != "low"]


def source_macs(pcap: Path) -> set[str]:
    macs = set()
    with pcap.open("rb") as fh:
        for _ts, buf in dpkt.pcap.UniversalReader(fh):
            if len(buf) >= 12:
                macs.add(buf[6:12].hex())
    return macs


def test_ndpi_uploads_hold_no_personal_data() -> None:
    root = shared_path("nDPI", "pcap")
    scanned: Counter[bool] = Counter()
    found: list[tuple[str, str, str]] = []
    raw: Counter[tuple[str, str]] = Counter()
    for pcap in sorted(root.glob("*.pcap*")):
        for body, ct, carrier in uploads(pcap):
            is_raw = carrier.startswith("raw.")
            scanned[is_raw] += 1
            for h in scan_upload(body, ct, carrier):
                if h.confidence == "low":
                    continue
                if is_raw:
                    raw[(pcap.name, h.data_type)] += 1
                else:
                    found.append((pcap.name, h.data_type, h.path))
    print(f"\nnDPI: {scanned[False]} dissected and {scanned[True]} raw payloads scanned, {len(found)} hits")
    print("raw:", dict(raw))
    assert scanned[False] > 100 and scanned[True] > 1000
    assert not found, found
    assert set(raw) == set(NDPI_RAW), set(raw) ^ set(NDPI_RAW)


@pytest.mark.xdist_group("iot-sentinel")
def test_iot_sentinel_hits_are_the_devices_own_identifiers() -> None:
    root = shared_path("IoT-Sentinel")
    kinds: Counter[str] = Counter()
    for pcap in sorted(root.glob("*/*.pcap")):
        hits = hits_of(pcap)
        if not hits:
            continue
        own = source_macs(pcap)
        for h in hits:
            kinds[h.data_type] += 1
            if h.data_type in ("mac", "serial"):
                assert re.sub(r"[^0-9a-f]", "", h.value.lower()) in own, (pcap.name, h)
            elif h.data_type == "email":
                assert h.value in TESTER_ACCOUNTS, (pcap.name, h)
            else:
                raise AssertionError(f"{pcap.name}: unexpected {h.data_type} {h.path}")
    print(f"\nIoT-Sentinel: {dict(kinds)}")
    assert kinds["mac"] > 0 and kinds["email"] > 0
