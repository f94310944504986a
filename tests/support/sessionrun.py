"""Test harness: run the flow meter with its sessions over a capture, keep every flow and record."""

from __future__ import annotations

import warnings
from pathlib import Path

from parsers.capture import read_batches
from parsers.decrypt.keys import KeyLog
from parsers.lan import DEFAULT_LAN, LanPrefixes
from parsers.meter import Flow, FlowMeter


def run_sessions(path: Path, keys: KeyLog | None = None) -> FlowMeter:
    """The meter after a whole capture: ``done`` holds every flow, ``records`` every record
    (``keys``: TLS session secrets, for the TLS flows to be decrypted)."""
    meter = FlowMeter(LanPrefixes(DEFAULT_LAN).is_local, keys=keys)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography warns about odd certificate serials
        for batch in read_batches(str(path)):
            meter.feed_many(batch)
        meter.flush()
    return meter


def wrong_keys(path: Path) -> KeyLog:
    """A key log's every secret with its first hex digit changed: right client randoms, wrong keys."""
    lines = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] != "RSA":
            parts[2] = ("0" if parts[2][0] != "0" else "1") + parts[2][1:]
        lines.append(" ".join(parts))
    keys = KeyLog()
    keys.add_text("\n".join(lines))
    return keys


def endpoints(f: Flow) -> tuple[str, int, str, int]:
    from parsers.lan import ip_text

    return ip_text(f.a), f.ap, ip_text(f.b), f.bp
