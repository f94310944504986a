"""MQTT control packets against the fields suricata-verify's MQTT tests check."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from parsers.events import AppRecord
from parsers.protocols.mqtt import MqttError, MqttParser
from pcaps.synth import frames
from tests.support.paths import SHARED, shared_path
from tests.support.sessionrun import run_sessions


def flatten(prefix: str, value: Any, out: dict[str, set[str]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}", v, out)
    else:
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out.setdefault(prefix, set()).add(text)


def observed(path: Path) -> dict[str, set[str]]:
    """What the replay's sessions read of every MQTT connection in a capture (tapaudit's app_events)."""
    got: dict[str, set[str]] = {}
    for rec in run_sessions(path).records:
        if not isinstance(rec, AppRecord) or rec.protocol != "mqtt":
            continue
        got.setdefault(f"mqtt.{rec.kind}", set()).add("present")
        fields = dict(rec.detail)
        if rec.kind == "publish":
            fields["message"] = rec.payload.decode("utf-8", "replace")
        flatten(f"mqtt.{rec.kind}", fields, got)
    return got


def cases() -> list[tuple[str, int, dict[str, str]]]:
    base = SHARED / "suricata-verify"
    out = []
    for ty in sorted(base.glob("mqtt*/test.yaml")) if base.exists() else []:
        doc = yaml.safe_load(ty.read_text()) or {}
        for i, check in enumerate(doc.get("checks") or []):
            match = (check.get("filter") or {}).get("match") or {}
            if match.get("event_type") != "mqtt":
                continue
            want = {
                k: str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in match.items()
                if k.startswith("mqtt.")
            }
            if "has-key" in match:
                want[str(match["has-key"])] = "present"
            if want:
                out.append((ty.parent.name, i, want))
    return out


CASES = cases()
# Where tapaudit and Suricata differ, what the bytes say: (test, field) -> (our value, why)
KNOWN = {
    ("mqtt-sub-rules", "mqtt.disconnect.reason_code"): (
        "4",
        "the DISCONNECT is e0 01 04: reason code 0x04, Disconnect with Will Message (MQTT 5, 3.14.2.1); "
        "Suricata logs 0",
    ),
}


def test_cases_found() -> None:
    shared_path("suricata-verify")
    assert len(CASES) >= 5


@pytest.mark.parametrize(("test_dir", "i", "want"), CASES, ids=[f"{c[0]}#{c[1]}" for c in CASES])
def test_matches_suricata_verify(test_dir: str, i: int, want: dict[str, str]) -> None:
    pcap = next(iter(sorted(shared_path("suricata-verify", test_dir).glob("*.pcap"))))
    got = observed(pcap)
    for key, value in want.items():
        if (test_dir, key) in KNOWN:
            ours, why = KNOWN[(test_dir, key)]
            assert got.get(key) == {ours}, key
            print(f"{test_dir}: {key}: Suricata {value}, tapaudit {ours}: {why}")
            continue
        assert value in got.get(key, set()), f"{key}: want {value!r}, tapaudit saw {sorted(got.get(key, []))}"


def test_generated_session_round_trip() -> None:
    stream = frames.mqtt_connect("imoo-861234", "watch", "s3cret") + frames.mqtt_publish(
        "loc/1", b'{"lat":31.2}'
    )
    stream += frames.MQTT_PINGREQ
    msgs = MqttParser().parse_stream(stream + stream[:3])  # a cut packet at the end waits
    assert [m.kind for m in msgs] == ["connect", "publish", "pingreq"]
    assert msgs[0].fields["client_id"] == "imoo-861234" and msgs[0].fields["username"] == "watch"
    assert msgs[1].fields["topic"] == "loc/1" and msgs[1].fields["message"] == b'{"lat":31.2}'


def test_malformed_raise_only_mqtt_error() -> None:
    stream = frames.mqtt_connect("c", "u", "p") + frames.mqtt_publish("t", b"x" * 40)
    for n in range(len(stream)):
        for blob in (stream[:n], stream[:n] + b"\xff\xff\xff\xff\xff", b"\x10" + stream[n:]):
            with contextlib.suppress(MqttError):
                MqttParser().parse_stream(blob)
