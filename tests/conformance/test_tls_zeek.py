"""TLS handshakes read by the replay's sessions against Zeek's ssl.log baselines.

For every connection Zeek logged: the server name, the negotiated version, the last
alert and the certificate chain's SHA-256 fingerprints (cert_chain_fps) must match;
QUIC connections (Zeek logs them in ssl.log too) are compared on the server name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from parsers.events import TlsRecord
from tests.support.paths import shared_path
from tests.support.sessionrun import endpoints, run_sessions
from tests.support.zeekconn import read_conn, trace_of

ZEEK = shared_path("zeek")
ZEEK_VERSION = {0x0304: "TLSv13", 0x0303: "TLSv12", 0x0302: "TLSv11", 0x0301: "TLSv10", 0x0300: "SSLv3"}


def baselines() -> list[Path]:
    if not ZEEK.exists():
        return []
    return sorted(d for d in (ZEEK / "Baseline").iterdir() if (d / "ssl.log").exists() and trace_of(d))


def _none(value: str) -> str:
    return "" if value in ("-", "(empty)") else value


@pytest.mark.parametrize("test_dir", baselines(), ids=lambda p: p.name)
def test_tls_matches_zeek_ssl_log(test_dir: Path) -> None:
    trace = ZEEK / "Traces" / str(trace_of(test_dir))
    if not trace.exists():
        pytest.skip(f"trace {trace.name} not in the shared corpus")
    meter = run_sessions(trace)
    ours = {endpoints(r.flow): r for r in meter.records if isinstance(r, TlsRecord)}
    rows = read_conn(test_dir / "ssl.log")
    assert rows
    for row in rows:
        key = (row["id.orig_h"], int(row["id.orig_p"]), row["id.resp_h"], int(row["id.resp_p"]))
        rec = ours.get(key)
        assert rec is not None, f"no handshake read for {key}"
        sni = rec.client.sni if rec.client else ""
        assert sni == _none(row["server_name"]), key
        if rec.transport == "quic":
            continue  # tapaudit reads the client's Initial only: Zeek's version comes from the server's
        version = ZEEK_VERSION.get(rec.server.version, f"unknown-{rec.server.version}") if rec.server else ""
        want = _none(row["version"])
        if want.startswith("TLSv13-draft"):
            assert rec.server is not None and rec.server.version >> 8 == 0x7F, key
        else:
            assert version == want, key
        alert = rec.alerts[-1].split(":", 1)[1] if rec.alerts else ""
        assert alert == _none(row.get("last_alert", "-")), key
        if "cert_chain_fps" in row:
            want_fps = [x for x in _none(row["cert_chain_fps"]).split(",") if x]
            assert [c.sha256 for c in rec.certs] == want_fps, key
