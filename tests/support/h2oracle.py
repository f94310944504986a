"""Test harness: tshark 4.0's HTTP/2 dissection as the oracle, one summary per stream and direction.

tshark's JSON output repeats a key for each frame of a packet (``http2.stream``) and each
header of a block (``http2.header``), so it is read keeping every repeat. Per HTTP/2 stream
and direction: the pseudo-headers of its first header block, and the DATA bytes it carried
without padding (frame length less the pad length field and the padding, RFC 9113 6.1).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class H2Side:
    """What tshark read of one direction of one stream."""

    method: str = ""
    authority: str = ""
    path: str = ""
    status: str = ""
    data: int = 0  # DATA payload bytes, padding removed
    headers_seen: bool = False


def _pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in items:
        if k in out:
            prev = out[k]
            out[k] = [*prev, v] if isinstance(prev, list) and k in _REPEATED else [prev, v]
            _REPEATED.add(k)
        else:
            out[k] = v
    return out


_REPEATED: set[str] = set()


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def h2_streams(path: Path, options: tuple[str, ...] = ()) -> dict[tuple[int, int, bool], H2Side]:
    """(tcp stream, HTTP/2 stream id, sent by the client) -> what tshark read, in capture order."""
    cmd = ["tshark", "-r", str(path), *options, "-Y", "http2", "-T", "json", "-J", "http2 tcp"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    _REPEATED.clear()
    packets = json.loads(out, object_pairs_hook=_pairs)
    frames: list[tuple[int, str, dict[str, Any]]] = []
    client: dict[int, str] = {}  # tcp stream -> the port that sent a request's header block
    for pk in packets:
        layers = pk["_source"]["layers"]
        tcp = layers["tcp"]
        conn, src = int(tcp["tcp.stream"]), tcp["tcp.srcport"]
        for h in _list(layers.get("http2", [])):
            for f in _list(h.get("http2.stream", [])):
                if "http2.type" in f:  # not the connection preface
                    frames.append((conn, src, f))
                    if int(f["http2.type"]) == 1 and _req(f):
                        client.setdefault(conn, src)
    res: dict[tuple[int, int, bool], H2Side] = {}
    names = {":method": "method", ":authority": "authority", ":path": "path", ":status": "status"}
    for conn, src, f in frames:
        kind, sid = int(f["http2.type"]), int(f["http2.streamid"])
        if kind not in (0, 1) or not sid:
            continue
        side = res.setdefault((conn, sid, client.get(conn) == src), H2Side())
        if kind == 1 and not side.headers_seen:
            side.headers_seen = True
            for hd in _list(f.get("http2.header", [])):
                name = hd.get("http2.header.name", "")
                if name in names:
                    setattr(side, names[name], hd.get("http2.header.value", ""))
        elif kind == 0:
            flags = int(f["http2.flags"], 16)
            pad = int(f.get("http2.pad_length", 0)) + 1 if flags & 0x8 else 0
            side.data += int(f["http2.length"]) - pad
    return res


def _req(f: dict[str, Any]) -> bool:
    return any(hd.get("http2.header.name") == ":method" for hd in _list(f.get("http2.header", [])))
