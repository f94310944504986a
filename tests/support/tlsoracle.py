"""Test harness: what Wireshark decrypts from a TLS capture, the oracle for issue 16's decryption.

``tls_view(capture, keylog)`` runs ``tshark -o tls.keylog_file:KEYLOG -r CAPTURE -T json`` (tshark 4.0)
and returns, in plain Python structures, the TLS sessions (version and suite from the ServerHello,
readable without keys), the KeyUpdate messages, the decrypted HTTP/1.x requests (method, host,
URI, Content-Length), HTTP/2 streams (id, method, authority, path, status, DATA bytes each way),
MQTT PUBLISHes (topic, payload length, QoS) and WebSocket frames (direction, opcode, payload
length). ``keylog=None`` passes an empty key log file setting, so only secrets inside the capture
(pcapng Decryption Secrets Blocks, ``editcap --inject-secrets``) can decrypt.
"""

from __future__ import annotations

import json
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# What tshark must dissect; the rest of each frame is left out of its JSON (-J keeps these layers).
LAYERS = "ip tcp tls http http2 mqtt websocket"
TLS13 = 0x0304  # supported_versions value of TLS 1.3 (RFC 8446 section 4.2.1)
TLS_VERSIONS = {0x0303: "TLSv1.2", TLS13: "TLSv1.3"}  # RFC 5246, RFC 8446; OpenSSL's names
KEY_UPDATE = 24  # HandshakeType key_update (RFC 8446 section 4)
PADDED = 0x08  # HTTP/2 DATA and HEADERS flag (RFC 9113 section 6.1)
SHB, DSB_BLOCK = 0x0A0D0D0A, 0x0000000A  # pcapng block types (draft-ietf-opsawg-pcapng 4.1, 4.7)


@dataclass(frozen=True)
class TlsSession:
    tcp_stream: int
    client: tuple[str, int]  # (address, port) that sent the ClientHello
    sni: str  # server_name of the ClientHello, "" without one
    client_random: bytes  # the ClientHello random: what a key log line is keyed by
    version: str  # "TLSv1.2" / "TLSv1.3"
    cipher_id: int  # IANA TLS cipher suite number from the ServerHello


@dataclass
class H2Stream:
    tcp_stream: int
    stream_id: int
    method: str | None = None
    authority: str | None = None
    path: str | None = None
    status: int | None = None
    request_data_length: int = 0  # DATA payload bytes client to server, padding excluded
    response_data_length: int = 0


@dataclass
class TlsView:
    sessions: list[TlsSession] = field(default_factory=list)
    key_updates: int = 0  # KeyUpdate handshake messages, both directions (visible only decrypted)
    http1: list[dict[str, Any]] = field(default_factory=list)  # {"method", "host", "uri", "content_length"}
    http2: list[H2Stream] = field(default_factory=list)
    mqtt: list[dict[str, Any]] = field(default_factory=list)  # {"topic", "payload_length", "qos"}
    ws: list[dict[str, Any]] = field(default_factory=list)  # {"from_client", "opcode", "payload_length"}


def tshark_json(capture: Path, keylog: Path | None) -> list[dict[str, Any]]:
    """Every frame's layers as tshark's JSON has them (repeated keys merged into lists)."""
    argv = [
        "tshark",
        "-n",
        "-r",
        str(capture),
        "-o",
        f"tls.keylog_file:{keylog or ''}",
        "-T",
        "json",
        "--no-duplicate-keys",
        "-J",
        LAYERS,
    ]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"tshark failed on {capture}: {r.stderr.strip()[-500:]}")
    return [p["_source"]["layers"] for p in json.loads(r.stdout or "[]")]


def _each(node: Any) -> list[Any]:
    """tshark's JSON holds one value or, for a repeated key, a list of them."""
    if node is None:
        return []
    return node if isinstance(node, list) else [node]


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    """(key, value) of every leaf and subtree under ``node``, depth first, in tshark's order."""
    if isinstance(node, dict):
        for k, v in node.items():
            for item in _each(v):
                yield k, item
                yield from _walk(item)


def _first(node: Any, key: str) -> Any:
    return next((v for k, v in _walk(node) if k == key), None)


def _hexlen(v: str | None) -> int:
    """Length in bytes of a bytes field as tshark's JSON prints it ("aa:bb:cc")."""
    return (len(v) + 1) // 3 if v else 0


def _int(v: Any) -> int:
    return int(str(v), 0)


def tls_view(capture: Path, keylog: Path | None) -> TlsView:
    view = TlsView()
    clients: dict[int, tuple[str, int]] = {}
    snis: dict[int, str] = {}
    randoms: dict[int, bytes] = {}
    streams: dict[tuple[int, int], H2Stream] = {}
    for layers in tshark_json(capture, keylog):
        if "tcp" not in layers:
            continue
        src = (_first(layers.get("ip"), "ip.src"), _int(_first(layers["tcp"], "tcp.srcport")))
        tcp_stream = _int(_first(layers["tcp"], "tcp.stream"))
        for hs in (v for k, v in _walk(layers.get("tls")) if k == "tls.handshake"):
            kind = _int(_first(hs, "tls.handshake.type") or -1)
            if kind == 1:
                clients[tcp_stream] = src
                snis[tcp_stream] = _first(hs, "tls.handshake.extensions_server_name") or ""
                randoms[tcp_stream] = bytes.fromhex(hs["tls.handshake.random"].replace(":", ""))
            elif kind == 2:
                ver = _first(hs, "tls.handshake.extensions.supported_version") or hs.get(
                    "tls.handshake.version"
                )
                view.sessions.append(
                    TlsSession(
                        tcp_stream,
                        clients.get(tcp_stream, ("", 0)),
                        snis.get(tcp_stream, ""),
                        randoms.get(tcp_stream, b""),
                        TLS_VERSIONS.get(_int(ver), str(ver)),
                        _int(hs["tls.handshake.ciphersuite"]),
                    )
                )
            elif kind == KEY_UPDATE:
                view.key_updates += 1
        from_client = clients.get(tcp_stream) == src
        for h in _each(layers.get("http")):
            method = _first(h, "http.request.method")
            if method is not None:
                cl = _first(h, "http.content_length_header")
                view.http1.append(
                    {
                        "method": method,
                        "host": _first(h, "http.host"),
                        "uri": _first(h, "http.request.uri"),
                        "content_length": None if cl is None else int(cl),
                    }
                )
        for h2 in _each(layers.get("http2")):
            for fr in _each(h2.get("http2.stream")):
                _h2_frame(fr, tcp_stream, from_client, streams)
        for m in _each(layers.get("mqtt")):
            if _first(m, "mqtt.msgtype") == "3":
                view.mqtt.append(
                    {
                        "topic": _first(m, "mqtt.topic"),
                        "payload_length": _hexlen(_first(m, "mqtt.msg")),
                        "qos": int(_first(m, "mqtt.qos")),
                    }
                )
        for w in _each(layers.get("websocket")):
            n = _int(w["websocket.payload_length"])
            n = _int(
                w.get("websocket.payload_length_ext_16") or w.get("websocket.payload_length_ext_64") or n
            )
            view.ws.append(
                {"from_client": from_client, "opcode": _int(w["websocket.opcode"]), "payload_length": n}
            )
    view.http2 = [s for s in streams.values() if s.stream_id != 0]
    return view


def _h2_frame(
    fr: dict[str, Any], tcp_stream: int, from_client: bool, streams: dict[tuple[int, int], H2Stream]
) -> None:
    if "http2.streamid" not in fr:
        return  # the connection preface
    sid = _int(fr["http2.streamid"])
    s = streams.setdefault((tcp_stream, sid), H2Stream(tcp_stream, sid))
    kind = _int(fr["http2.type"])
    if kind == 0:  # DATA
        n = _int(fr["http2.length"])
        if _int(fr.get("http2.flags", "0")) & PADDED:
            n -= _int(fr.get("http2.pad_length", "0")) + 1
        if from_client:
            s.request_data_length += n
        else:
            s.response_data_length += n
    for hdr in _each(fr.get("http2.header")):
        name, value = hdr.get("http2.header.name"), hdr.get("http2.header.value")
        if name == ":method":
            s.method = value
        elif name == ":authority":
            s.authority = value
        elif name == ":path":
            s.path = value
        elif name == ":status":
            s.status = int(value)


def secrets_blocks(capture: Path) -> list[tuple[int, bytes]]:
    """(secrets type, secrets data) of every Decryption Secrets Block in a pcapng file, read with
    the block layout of draft-ietf-opsawg-pcapng (4.1, 4.7) and nothing of tapaudit's reader."""
    data = capture.read_bytes()
    out: list[tuple[int, bytes]] = []
    pos, endian = 0, "<"
    while pos + 12 <= len(data):
        if struct.unpack_from("<I", data, pos)[0] == SHB:  # each section names its byte order
            endian = "<" if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        kind, length = struct.unpack_from(endian + "II", data, pos)
        if length < 12 or pos + length > len(data):
            raise ValueError(f"{capture}: bad pcapng block at {pos}")
        if kind == DSB_BLOCK:
            stype, slen = struct.unpack_from(endian + "II", data, pos + 8)
            out.append((stype, data[pos + 16 : pos + 16 + slen]))
        pos += length
    return out
