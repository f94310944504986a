"""Personal data sent over HTTP/2 is observed as the same data sent over HTTP/1.1 is.

The generated h2c capture (``tests.support.h2gen``) and an HTTP/1.1 capture of the very same
requests and responses go through the replay's ``Pipeline``: the http rows and the observations
(what data type, in which carrier) must be the same, stream id standing for the message order.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from appliance.ingest.pipeline import Pipeline
from appliance.ingest.replay import ReplayOptions
from appliance.ingest.sources import PcapSource
from appliance.store.schema import FLOWS, HTTP, OBSERVATIONS
from tests.support.h2gen import Capture, generate


def rows(pcap: bytes, tmp: Path) -> dict[str, list[dict[str, Any]]]:
    path = tmp / "c.pcap"
    path.write_bytes(pcap)
    out: dict[str, list[dict[str, Any]]] = {}
    names = {"http": HTTP.names, "observations": OBSERVATIONS.names, "flows": FLOWS.names}

    def write(table: str, got: list[tuple[Any, ...]]) -> None:
        if table in names:
            out.setdefault(table, []).extend(dict(zip(names[table], r, strict=True)) for r in got)

    src = PcapSource(str(path))
    pipe = Pipeline.from_options(src.capture_id, 1, write, ReplayOptions(), b"h2c-test-key")
    for batch in src.batches():
        pipe.feed_many(batch)
    pipe.finish()
    return out


def as_http1(cap: Capture) -> Capture:
    """The generated exchanges as HTTP/1.1 on one connection (the reset stream never answered)."""
    h1 = Capture()
    for ex in cap.exchanges:
        head = f"{ex.method} {ex.path} HTTP/1.1\r\nHost: {ex.authority}\r\n"
        if ex.body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(ex.body)}\r\n"
        h1.segments.append((True, head.encode() + b"\r\n" + ex.body))
        if ex.status:
            resp = f"HTTP/1.1 {ex.status} OK\r\nContent-Length: {len(ex.response)}\r\n\r\n"
            h1.segments.append((False, resp.encode() + ex.response))
    return h1


def test_h2c_observed_as_http1(tmp_path: Path) -> None:
    cap = generate()
    h2 = rows(cap.pcap(), tmp_path)
    h1 = rows(as_http1(cap).pcap(), tmp_path)
    assert [f["app"] for f in h2["flows"]] == ["http2"]
    assert [f["app"] for f in h1["flows"]] == ["http"]

    def http(rs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(
            (r["is_response"], r["method"], r["host"], r["path"], r["query"], r["status"]) for r in rs
        )

    assert http(h2["http"]) == http(h1["http"])
    assert sorted(r["idx"] for r in h2["http"] if not r["is_response"]) == [1, 3, 5, 7, 9]  # stream ids

    def seen(rs: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
        return Counter((o["data_type"], o["carrier"], o["value_hash"]) for o in rs)

    obs = seen(h2["observations"])
    assert obs == seen(h1["observations"])
    kinds = {k[:2] for k in obs}
    assert kinds >= {("imei", "http.query"), ("imei", "http.body"), ("location", "http.body")}
    assert ("location", "http.query") in kinds and ("health:steps", "http.body") in kinds
