"""HTTP/2 as curl (nghttp2) sends it: h2c by prior knowledge and by upgrade, captured on the
loopback with dumpcap, read by us and by tshark; the requests are what curl was asked to send.

curl's HPACK encoder and framing (nghttp2) are independent of the ``h2`` library the generated
captures use: Huffman-coded literals, its own dynamic table use, a header block over
CONTINUATION frames (a 20 kB cookie), a 100 kB body over many DATA frames under flow control.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from parsers.events import HttpRecord
from parsers.protocols.http import HttpRequest, HttpResponse
from tests.support.h2oracle import h2_streams
from tests.support.h2server import H2cServer
from tests.support.sessionrun import run_sessions
from tests.support.tshark import needs_tshark

IMEI_JSON = b'{"imei":"861234567890127","lat":39.908720,"lng":116.397470}'
COOKIE = "session=" + "c" * 20000
UPLOAD = bytes(range(256)) * 400  # 100 kB


def capture(tmp: Path) -> tuple[Path, int, H2cServer]:
    """curl's requests to the h2c server, as dumpcap saw them on the loopback."""
    srv = H2cServer()
    out = tmp / "curl-h2c.pcapng"
    dump = subprocess.Popen(
        ["dumpcap", "-q", "-i", "lo", "-f", f"tcp port {srv.port}", "-w", str(out)], stderr=subprocess.PIPE
    )
    try:
        time.sleep(1.5)  # dumpcap opens the interface
        url = f"http://127.0.0.1:{srv.port}"
        body = tmp / "upload.bin"
        body.write_bytes(UPLOAD)
        for args in (
            ["--http2-prior-knowledge", "-H", "content-type: application/json", "-d", IMEI_JSON.decode()],
            ["--http2-prior-knowledge", "-H", f"cookie: {COOKIE}"],
            ["--http2-prior-knowledge", "--data-binary", f"@{body}"],
            ["--http2"],  # HTTP/1.1 with Upgrade: h2c
        ):
            path = {0: "/v2/location", 1: "/v2/profile", 2: "/v2/upload", 3: "/v1/hello?x=1"}[
                len(srv.answers)
            ]
            subprocess.run(["curl", "-sS", "-o", "/dev/null", *args, url + path], check=True, timeout=20)
        time.sleep(1)
    finally:
        dump.terminate()
        dump.wait(timeout=10)
        srv.close()
    return out, srv.port, srv


@needs_tshark
@pytest.mark.root
def test_curl_h2c_agrees_with_tshark_and_with_what_curl_sent(tmp_path: Path) -> None:
    if shutil.which("dumpcap") is None or shutil.which("curl") is None:
        pytest.fail("dumpcap and curl (with nghttp2) are needed")
    path, port, srv = capture(tmp_path)
    recs = [r for r in run_sessions(path).records if isinstance(r, HttpRecord)]
    h2 = [r for r in recs if r.msg.version == "2"]
    reqs = {r.msg.uri: r.msg for r in h2 if isinstance(r.msg, HttpRequest)}
    assert set(reqs) == {"/v2/location", "/v2/profile", "/v2/upload"}  # the upgrade request is HTTP/1.1
    assert reqs["/v2/location"].body == IMEI_JSON and reqs["/v2/location"].method == "POST"
    assert reqs["/v2/profile"].header("cookie") == COOKIE
    assert reqs["/v2/upload"].body == UPLOAD
    assert {r.msg.host for r in h2 if isinstance(r.msg, HttpRequest)} == {f"127.0.0.1:{port}"}
    resps = [r.msg for r in h2 if isinstance(r.msg, HttpResponse)]
    assert sorted(m.body for m in resps) == sorted(srv.answers.values())
    assert all(m.status == 200 for m in resps)
    # per stream and direction: method, authority, path, status, DATA bytes (streams of several
    # connections: compared as multisets)
    got = sorted(
        (m.method, m.host, m.uri, "", m.body_len)
        if isinstance(m, HttpRequest)
        else ("", "", "", str(getattr(m, "status", 0)), m.body_len)
        for m in (r.msg for r in h2)
    )
    # tshark reads prior knowledge on a port it is told is HTTP/2, an upgrade on one it is not told
    theirs = h2_streams(path) | h2_streams(path, ("-d", f"tcp.port=={port},http2"))
    want = sorted((t.method, t.authority, t.path, t.status, t.data) for t in theirs.values())
    assert len(want) == 7  # three requests by prior knowledge, four responses
    assert got == want
