"""The decryption bench's captures (``pcaps/synth/bench_tls.py``, issue 16 "Speed"): copies that
never share a flow, every TLS session in the key log, and a clear twin carrying the same requests.

The oracle is tshark 4.0: with the key log it must open every TLS session of the TLS capture and
find the very HTTP requests and MQTT publishes it finds in the clear twin; the copies' times are
read back from the files, not from the generator.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from parsers.capture import read_pcap
from pcaps.synth import bench_tls

COPIES = 2


@pytest.fixture(scope="module")
def caps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return bench_tls.generate(tmp_path_factory.mktemp("bench-tls"), COPIES, seed=3)


def _times(path: Path) -> list[int]:
    return [p[0] for p in read_pcap(str(path))]


def test_copies_are_apart_in_time_and_keyed(caps: dict[str, Path]) -> None:
    """Each copy ends long before the next starts (no flow spans two); one key set per session."""
    ts = _times(caps["tls"])
    assert ts == sorted(ts)
    gaps = [b - a for a, b in itertools.pairwise(ts)]
    assert sum(g >= bench_tls.GAP_S * 1e9 for g in gaps) == COPIES - 1
    labels = Counter(line.split()[0] for line in caps["keylog"].read_text().splitlines()[1:])
    assert len(set(labels.values())) == 1 and labels["CLIENT_TRAFFIC_SECRET_0"] > 0
    assert _times(caps["clear"])[0] == ts[0]  # the twin starts at the same instant


def _tshark(path: Path, *args: str) -> list[str]:
    cmd = ["tshark", "-n", "-r", str(path), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split("\n")


@pytest.mark.tshark
def test_tshark_opens_every_session_and_sees_the_clear_twins_requests(caps: dict[str, Path]) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    keys = ["-o", f"tls.keylog_file:{caps['keylog']}"]
    sessions = sum(1 for x in caps["keylog"].read_text().splitlines() if x.startswith("CLIENT_TRAFFIC"))
    hellos = _tshark(caps["tls"], "-Y", "tls.handshake.type == 1", "-T", "fields", "-e", "tcp.stream")
    assert len([x for x in hellos if x]) == sessions
    finished = _tshark(
        caps["tls"], *keys, "-Y", "tls.handshake.type == 20", "-T", "fields", "-e", "tcp.stream"
    )
    assert len({x for x in finished if x}) == sessions  # a Finished read inside every session

    def requests(path: Path, *extra: str) -> Counter[str]:
        fields = ["-e", "http.request.uri", "-e", "http2.headers.path", "-e", "mqtt.topic"]
        rows = _tshark(
            path, *extra, "-Y", "http.request or http2.headers.path or mqtt.topic", "-T", "fields", *fields
        )
        return Counter(r for r in rows if r.strip())

    clear = requests(caps["clear"], "-d", "tcp.port==1883,mqtt")
    assert clear and requests(caps["tls"], *keys) == clear
