"""Upload classes on real labelled captures: each clip's class is its dataset label or ``unknown``,
never a wrong class stated with medium or high confidence.

The labels come from the datasets, not from this code: the Mon(IoT)r Yi camera sample is a camera
recording (video); the Lifecycle dataset's Xiaodu plug phases (``xiaodu_plug.txt``) say when a
voice command was spoken; nDPI's ``result/*.out`` names each flow's application (an RTP, SRTP or
STUN "call" of KakaoTalk, WhatsApp, Telegram; Nintendo game traffic; WhatsApp/Signal file
transfers; Microsoft and Amazon telemetry); tshark decodes the RTP payload type of the one flow
whose media is in clear (H.263 video, payload type 34 of RFC 3551). The idle and control captures
(SSI plug, Blink hub) hold no media at all.

``role`` says which clips the bounds in ``appliance.measures.upload_kinds`` were checked against
while choosing them ("calibrate") and which were only run afterwards ("check"). Most bounds are
published figures (RFC 3551, 6716, 7587, speech-API input formats); the ones that are not are the
TCP voice stream's size spread (0.6: the Xiaodu off-voice command has 0.42) and the video bounds
(3 s, 12 kB/s, 400-byte packets: the Yi camera's long burst has 28 s, 23.6 kB/s, 624 bytes).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from appliance.ingest.replay import ReplayOptions, replay
from appliance.measures import shapes
from appliance.measures.shapes import BURST_FIELDS
from appliance.measures.upload_kinds import Burst, Upload, classify_burst
from appliance.store.backends import open_store
from tests.support.paths import shared_path
from tests.support.run import cli

DEMO = "Lifecycle-Based-Traffic-Dataset/result_demo/traffic_demo"
LIFE = f"{DEMO}/xiaodu_plug/xiaodu_plug.pcap"  # the whole lifecycle
PH = f"{DEMO}/xiaodu_plug_lifecycle/xiaodu_plug_{{}}.pcap".format  # one phase
N = "nDPI/pcap/"
YI = "NEU-SNS-intl-iot/yi_camera_sample.pcap"
MEDIA = {"voice": {"audio"}, "video": {"video"}, "call": {"audio", "video"}}  # labels to right classes


@dataclass(frozen=True)
class Clip:
    capture: str  # under ../shared/pcaps
    remote: str  # the flow's remote address
    port: int  # its remote port, 0 for any
    nth: int  # the nth burst of 16 KiB or more the device sent it, in time order
    label: str  # what the dataset says it is: voice, video, call (voice or video), or what it is not
    source: str
    role: str  # calibrate or check

    @property
    def accepted(self) -> set[str]:
        """The classes that are right for this label (``unknown`` is always allowed)."""
        return MEDIA.get(self.label, set())


CLIPS = (
    Clip(YI, "192.168.10.248", 0, 1, "video", "Mon(IoT)r: Yi camera recording, the long burst", "calibrate"),
    Clip(YI, "192.168.10.248", 0, 0, "video", "Mon(IoT)r: Yi camera recording, first 3.4 s", "check"),
    Clip(PH("off_voice"), "112.34.112.167", 0, 0, "voice", "Lifecycle: off_voice, the command",
         "calibrate"),
    Clip(PH("on_voice"), "112.34.112.167", 0, 0, "voice", "Lifecycle: on_voice, the command", "check"),
    Clip(PH("on_voice"), "112.34.112.167", 0, 1, "control",
         "Lifecycle: on_voice phase after the command: the plug's state reports (request/answer)", "check"),
    Clip(PH("off_remote"), "112.34.112.167", 0, 0, "control", "Lifecycle: off_remote", "check"),
    Clip(LIFE, "112.34.112.167", 0, 0, "control", "Lifecycle: between idle_off_local and idle_off_remote",
         "check"),
    Clip(N + "KakaoTalk_talk.pcap", "1.201.1.174", 23044, 0, "voice", "nDPI: RTP (KakaoTalk talk)", "check"),
    Clip(N + "KakaoTalk_talk.pcap", "1.201.1.174", 23046, 0, "voice", "nDPI: RTP (KakaoTalk talk)", "check"),
    Clip(N + "telegram.pcap", "91.108.8.8", 529, 0, "voice", "nDPI: Telegram, to its call relay", "check"),
    Clip(N + "telegram.pcap", "192.168.1.52", 31480, 0, "voice",
         "nDPI: the same call's peer-to-peer leg (same local port as the relay leg)", "check"),
    Clip(N + "whatsapp_login_call.pcap", "91.253.176.65", 9344, 0, "voice", "nDPI: SRTP.WhatsAppCall",
         "check"),
    Clip(N + "stun_wa_call.pcapng", "93.57.123.227", 3478, 0, "voice", "nDPI: STUN.WhatsAppCall", "check"),
    Clip(N + "snapchat_call_v1.pcapng", "34.246.231.140", 443, 0, "call", "nDPI: QUIC.SnapchatCall",
         "check"),
    Clip(N + "rtp.pcapng", "10.204.220.171", 6000, 0, "video", "tshark: RTP payload type 34, H.263", "check"),
    Clip(N + "nintendo.pcap", "93.237.131.235", 56066, 0, "game", "nDPI: Nintendo", "calibrate"),
    Clip(N + "nintendo.pcap", "81.61.158.138", 51769, 0, "game", "nDPI: Nintendo", "check"),
    Clip(N + "nintendo.pcap", "185.118.169.65", 27520, 0, "game", "nDPI: Nintendo", "check"),
    Clip(N + "ipp.pcap", "10.10.10.251", 631, 0, "file", "nDPI: IPP print job", "check"),
    Clip(N + "ookla.pcap", "89.96.108.170", 8080, 0, "file", "nDPI: Ookla speed test", "check"),
    Clip(N + "signal.pcap", "13.35.253.42", 443, 0, "file", "nDPI: TLS.Signal (attachment CDN)", "check"),
    Clip(N + "whatsappfiles.pcap", "185.60.216.53", 443, 0, "file", "nDPI: TLS.WhatsAppFiles", "check"),
    Clip(N + "youtubeupload.pcap", "172.217.23.111", 443, 0, "file", "nDPI: QUIC.YouTubeUpload", "check"),
    Clip(N + "uftp_v4_v5.pcap", "230.5.5.56", 1044, 0, "file", "nDPI: UFTP multicast file", "check"),
    Clip(N + "teams.pcap", "52.114.77.33", 443, 0, "telemetry", "nDPI: TLS.Microsoft (aria)", "check"),
    Clip(N + "teams.pcap", "52.114.77.33", 443, 1, "telemetry", "nDPI: TLS.Microsoft (aria)", "check"),
    Clip(N + "iphone.pcap", "17.248.185.87", 443, 0, "sync", "nDPI: TLS.AppleiCloud", "check"),
    Clip(N + "alexa-app.pcapng", "54.239.24.186", 443, 0, "telemetry", "nDPI: TLS (mobileanalytics)",
         "check"),
)  # fmt: skip

_BURSTS: dict[str, list[dict[str, Any]]] = {}


def _bursts(capture: str, tmp: Path) -> list[dict[str, Any]]:
    """The capture's bursts of 16 KiB or more sent, with their flow's remote end and protocol,
    replayed once per module (captures without link-layer addresses keep no device, so these are
    read from ``bursts`` directly, not through ``shapes.uploads``)."""
    if capture not in _BURSTS:
        store = open_store(str(tmp / capture.replace("/", "_")))
        store.ensure_schema()
        try:
            replay(store, str(shared_path(*capture.split("/"))), ReplayOptions(force=True))
            _BURSTS[capture] = store.query(
                """SELECT b.start_ns AS start_ns, b.end_ns AS end_ns, b.bytes_out AS bytes_out,
                    b.bytes_in AS bytes_in, b.pkts_out AS pkts_out, b.pkts_in AS pkts_in, b.sq_out AS sq_out,
                    b.large_out AS large_out, f.proto AS proto, f.remote_ip AS remote_ip,
                    f.remote_port AS remote_port
                FROM (SELECT * FROM {db}.bursts WHERE bytes_out >= 16384) AS b
                ANY LEFT JOIN (SELECT flow_id, proto, remote_ip, remote_port FROM {db}.flows) AS f
                USING flow_id
                ORDER BY start_ns"""
            )
        finally:
            store.close()
    return _BURSTS[capture]


def _classify(clip: Clip, tmp: Path) -> tuple[dict[str, Any], Upload | None]:
    hits = [
        b
        for b in _bursts(clip.capture, tmp)
        if b["remote_ip"] == clip.remote and (clip.port == 0 or int(b["remote_port"]) == clip.port)
    ]
    assert len(hits) > clip.nth, (clip, hits)
    b = hits[clip.nth]
    return b, classify_burst(Burst(*(int(b[k]) for k in BURST_FIELDS)))


def verdict(clip: Clip, u: Upload | None) -> str:
    """correct, unknown (no class, or not an upload, for a media clip) or wrong (with its confidence).
    For a clip that is not media (control, game, file...) no media class is the right answer."""
    if u is None or u.kind == "unknown":
        return "unknown" if clip.accepted else "correct"
    return "correct" if u.kind in clip.accepted else f"wrong ({u.confidence})"


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real-uploads")


def test_real_clips_are_their_label_or_unknown(tmp: Path) -> None:
    counts: dict[str, int] = {}
    print(f"\n{'capture':34} {'flow':22} {'label':9} {'class':8} {'conf':6} {'score':>5} {'role':9} verdict")
    for clip in CLIPS:
        _, u = _classify(clip, tmp)
        v = verdict(clip, u)
        counts[v] = counts.get(v, 0) + 1
        kind, conf, score = (u.kind, u.confidence, u.score) if u else ("-", "-", 0.0)
        flow = f"{clip.remote}:{clip.port}"
        print(f"{clip.capture.split('/')[-1]:34} {flow:22} {clip.label:9} {kind:8} {conf:6} {score:>5.2f} "
              f"{clip.role:9} {v}")  # fmt: skip
        assert u is None or u.kind in clip.accepted | {"unknown"}, (clip, u)
        if clip.role == "calibrate" and clip.accepted:
            assert u is not None and u.kind in clip.accepted, (
                clip,
                u,
            )  # a bound must fit the clip it came from
    print(counts)
    assert set(counts) <= {"correct", "unknown"}
    assert counts["correct"] > counts.get("unknown", 0)  # a class that mostly abstains would pass above


def test_uploads_read_api_and_cli_show_the_class_and_confidence(tmp_path: Path) -> None:
    """End to end on the Yi camera: the read API and ``tapaudit uploads`` give the same class as the
    table, with the confidence as a label and a score."""
    db = tmp_path / "db"
    assert cli("replay", str(shared_path(*YI.split("/"))), "-q", db=db).returncode == 0
    rows = __import__("json").loads(cli("uploads", "--all", "--json", db=db).stdout)
    assert [(r["kind"], r["confidence"]) for r in rows] == [("video", "medium"), ("video", "high")]
    assert all(0.5 <= r["score"] <= 1 for r in rows)
    text = cli("uploads", "--all", db=db).stdout
    assert "video (high 0.85)" in text.replace("\n", " ") or "video (high" in text
    store = open_store(str(db))
    try:
        api = shapes.uploads(store, encrypted_only=False)
    finally:
        store.close()
    assert [r["kind"] for r in api] == ["video", "video"] and {r["leaning"] for r in api} == {"video"}


@pytest.mark.tshark
def test_the_video_label_of_the_rtp_clip_is_what_tshark_decodes() -> None:
    """The oracle for the rtp.pcapng clip's label: its RTP payload type is 34 (H.263, RFC 3551)."""
    path = shared_path("nDPI", "pcap", "rtp.pcapng")
    out = subprocess.run(
        ["tshark", "-r", str(path), "-o", "rtp.heuristic_rtp:TRUE", "-Y", "rtp && ip.dst==10.204.220.171",
         "-T", "fields", "-e", "rtp.p_type"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout.split()  # fmt: skip
    assert out and set(out) == {"34"}
