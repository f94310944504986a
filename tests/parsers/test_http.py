"""HTTP/1.x against Zeek's http.log baselines and on the lab's plain-text uploads."""

from __future__ import annotations

import contextlib
import gzip
import zlib
from pathlib import Path

import pytest

from parsers.protocols.http import HttpError, parse_requests, parse_responses
from tests.support.paths import ROOT, SHARED, shared_path
from tests.support.tcpflows import streams
from tests.support.zeekconn import read_conn, trace_of


def baselines() -> list[Path]:
    base = SHARED / "zeek" / "Baseline"
    if not base.exists():
        return []
    return sorted(d for d in base.iterdir() if (d / "http.log").exists() and trace_of(d))


def transactions(pcap: Path) -> list[tuple[dict[str, str], dict[str, str]]]:
    out = []
    for client, server in streams(pcap):
        try:
            reqs = parse_requests(client)
            resps = parse_responses(server, [q.method for q in reqs]) if reqs else []
        except HttpError:
            continue
        finals = [r for r in resps if r.status >= 200]
        for i, q in enumerate(reqs):
            r = finals[i] if i < len(finals) else None
            out.append(
                (
                    {
                        "method": q.method,
                        "host": q.host,
                        "uri": q.uri,
                        "user_agent": q.user_agent,
                        "request_body_len": str(q.body_len),
                    },
                    {
                        "status_code": str(r.status) if r else "-",
                        "response_body_len": str(r.body_len) if r else "0",
                    },
                )
            )
    return out


@pytest.mark.parametrize("test_dir", baselines(), ids=lambda d: d.name)
def test_http_matches_zeek(test_dir: Path) -> None:
    ours = transactions(shared_path("zeek", "Traces", str(trace_of(test_dir))))
    rows = [r for r in read_conn(test_dir / "http.log") if r.get("method", "-") != "-"]
    assert rows
    for row in rows:
        want = {k: row[k] for k in ("method", "host", "uri", "user_agent", "request_body_len") if k in row}
        want = {k: ("" if v == "-" else v) for k, v in want.items()}
        hits = [(q, r) for q, r in ours if all(q[k] == v for k, v in want.items())]
        assert hits, f"{want} not among {[q for q, _ in ours][:5]}"
        if row.get("status_code", "-") != "-":
            assert any(r["status_code"] == row["status_code"] for _q, r in hits), (want, row["status_code"])
        if "response_body_len" in row:
            assert any(r["response_body_len"] == row["response_body_len"] for _q, r in hits), want


def test_lab_uploads_are_read() -> None:
    """The children's watch posts its location and phone number in clear (pcaps/lab)."""
    posts = [q for q, _r in transactions(ROOT / "pcaps" / "lab" / "lab.pcapng") if q["method"] == "POST"]
    assert posts and all(q["host"] for q in posts)
    assert any(q["uri"] == "/v2/device/report" for q in posts)


def test_chunked_gzip_and_limits() -> None:
    body = b'{"lat": 31.230416, "lon": 121.473701}' * 50
    gz = gzip.compress(body)
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(gz[i : i + 100]), gz[i : i + 100]) for i in range(0, len(gz), 100)
    )
    resp = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
        + chunked
        + b"0\r\n\r\n"
    )
    (r,) = parse_responses(resp)
    assert r.body == body and r.body_len == len(gz) and not r.truncated
    (small,) = parse_responses(resp, body_limit=100)
    assert small.body == body[:100] and small.truncated
    bomb = zlib.compress(b"\0" * 10_000_000)
    req = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(
        bomb
    )
    (q,) = parse_requests(req + bomb)
    assert len(q.body) == 1 << 20 and q.truncated


def test_malformed_raise_only_http_error() -> None:
    base = b"POST /a?b=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    for n in range(len(base)):
        for blob in (base[:n], base[:n] + b"zz\r\n" + base[n:], b"\xff" * n):
            with contextlib.suppress(HttpError):
                parse_requests(blob)
            with contextlib.suppress(HttpError):
                parse_responses(blob)
