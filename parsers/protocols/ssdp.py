"""SSDP (UPnP 1.1 discovery over UDP 1900): the headers that name a device."""

from __future__ import annotations

from dataclasses import dataclass

WANTED = ("server", "usn", "nt", "st", "location", "user-agent", "host")


@dataclass
class SsdpMessage:
    start_line: str
    headers: dict[str, str]

    @property
    def is_announcement(self) -> bool:
        """NOTIFY and search responses describe the sender; M-SEARCH describes a wish."""
        return not self.start_line.upper().startswith("M-SEARCH")


def parse(payload: bytes) -> SsdpMessage | None:
    """Parse an SSDP datagram; None when it is not HTTP-over-UDP text."""
    if not payload[:8].upper().startswith((b"NOTIFY", b"M-SEARCH", b"HTTP/1.")):
        return None
    text = payload[:4096].decode("utf-8", "replace")
    lines = text.split("\r\n") if "\r\n" in text else text.split("\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        key = name.strip().lower()
        if sep and key in WANTED:
            headers[key] = value.strip()[:256]
    return SsdpMessage(lines[0].strip()[:200], headers)
