"""CoAP over UDP (RFC 7252, 7959, 8132): one datagram to a request or response.

Constrained devices (sensors, bulbs, plugs, IKEA and Xiaomi hubs) speak CoAP on udp/5683:
the Uri-Host/Uri-Path/Uri-Query options name the resource a device reads or reports to
and the payload (often JSON or CBOR, see Content-Format) carries the values. Only what
RFC 7252 defines as a message format error raises ``CoapError``; unknown options and
codes are kept as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parsers.protocols.wire import Reader

TYPES = ("CON", "NON", "ACK", "RST")
METHODS = {1: "GET", 2: "POST", 3: "PUT", 4: "DELETE", 5: "FETCH", 6: "PATCH", 7: "iPATCH"}
RESPONSES = {
    (2, 1): "Created",
    (2, 2): "Deleted",
    (2, 3): "Valid",
    (2, 4): "Changed",
    (2, 5): "Content",
    (2, 31): "Continue",
    (4, 0): "Bad Request",
    (4, 1): "Unauthorized",
    (4, 2): "Bad Option",
    (4, 3): "Forbidden",
    (4, 4): "Not Found",
    (4, 5): "Method Not Allowed",
    (4, 6): "Not Acceptable",
    (4, 8): "Request Entity Incomplete",
    (4, 9): "Conflict",
    (4, 12): "Precondition Failed",
    (4, 13): "Request Entity Too Large",
    (4, 15): "Unsupported Content-Format",
    (4, 22): "Unprocessable Entity",
    (4, 29): "Too Many Requests",
    (5, 0): "Internal Server Error",
    (5, 1): "Not Implemented",
    (5, 2): "Bad Gateway",
    (5, 3): "Service Unavailable",
    (5, 4): "Gateway Timeout",
    (5, 5): "Proxying Not Supported",
    (5, 8): "Hop Limit Reached",
}
URI_HOST, OBSERVE, URI_PORT, URI_PATH, CONTENT_FORMAT, URI_QUERY, ACCEPT = 3, 6, 7, 11, 12, 15, 17
MAX_OPTION = 0xFFFF  # option numbers are 16-bit (RFC 7252 12.2)


class CoapError(ValueError):
    """A CoAP message format error: bad version, token length 9-15, reserved nibble 15, cut option."""


@dataclass(slots=True)
class CoapMessage:
    version: int
    type: str  # CON, NON, ACK, RST
    code: str  # "c.dd", e.g. "0.01", "2.05"
    code_name: str  # GET ... iPATCH, Content ..., "Empty", or "" when unassigned
    message_id: int
    token: str  # hex
    options: list[tuple[int, bytes]] = field(default_factory=list)  # (number, value) in wire order
    payload: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.code.startswith("0.") and self.code != "0.00"

    @property
    def is_response(self) -> bool:
        return self.code[0] in "245"

    def values(self, number: int) -> list[bytes]:
        return [v for n, v in self.options if n == number]

    @property
    def uri_host(self) -> str | None:
        hosts = self.values(URI_HOST)
        return hosts[0].decode("utf-8", "replace") if hosts else None

    @property
    def uri_port(self) -> int | None:
        ports = self.values(URI_PORT)
        return _uint(ports[0]) if ports else None

    @property
    def uri_path(self) -> str:
        """The path from the Uri-Path options ("/a/b"); "/" when there are none (RFC 7252 6.5)."""
        return "/" + "/".join(v.decode("utf-8", "replace") for v in self.values(URI_PATH))

    @property
    def uri_query(self) -> list[str]:
        return [v.decode("utf-8", "replace") for v in self.values(URI_QUERY)]

    @property
    def content_format(self) -> int | None:
        formats = self.values(CONTENT_FORMAT)
        return _uint(formats[0]) if formats else None

    @property
    def accept(self) -> int | None:
        accepts = self.values(ACCEPT)
        return _uint(accepts[0]) if accepts else None

    @property
    def observe(self) -> int | None:
        obs = self.values(OBSERVE)
        return _uint(obs[0]) if obs else None


def _uint(value: bytes) -> int:
    return int.from_bytes(value, "big")


def code_name(cls: int, detail: int) -> str:
    if cls == 0:
        return "Empty" if detail == 0 else METHODS.get(detail, "")
    return RESPONSES.get((cls, detail), "")


def _extended(r: Reader, nibble: int) -> int:
    """An option delta or length nibble with its 13/14 extension (RFC 7252 3.1)."""
    if nibble == 13:
        return r.u8() + 13
    if nibble == 14:
        return r.u16() + 269
    if nibble == 15:
        raise CoapError("reserved option nibble 15")
    return nibble


def parse(payload: bytes) -> CoapMessage:
    """Parse one CoAP-over-UDP datagram; raises CoapError on a message format error."""
    r = Reader(payload, CoapError)
    if r.left() < 4:
        raise CoapError("shorter than the 4-byte CoAP header")
    first, code = r.u8(), r.u8()
    version, mtype, tkl = first >> 6, (first >> 4) & 3, first & 0x0F
    if version != 1:
        raise CoapError(f"CoAP version {version}")
    if tkl > 8:
        raise CoapError(f"token length {tkl} is reserved")
    cls, detail = code >> 5, code & 0x1F
    msg = CoapMessage(version, TYPES[mtype], f"{cls}.{detail:02d}", code_name(cls, detail), r.u16(), "")
    msg.token = r.take(tkl).hex()
    if code == 0 and (tkl or r.left()):
        raise CoapError("an Empty message (0.00) carries a token, options or payload")
    number = 0
    while r.left():
        byte = r.u8()
        if byte == 0xFF:
            if not r.left():
                raise CoapError("payload marker with an empty payload")
            msg.payload = r.rest()
            break
        number += _extended(r, byte >> 4)
        if number > MAX_OPTION:
            raise CoapError(f"option number {number} is past 65535")
        msg.options.append((number, r.take(_extended(r, byte & 0x0F))))
    return msg
