"""What a content detector reports: one value of one kind of personal data, where it was, how precise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HIGH, MEDIUM, LOW = "high", "medium", "low"


@dataclass(slots=True)
class Hit:
    """A personal-data value found in a payload.

    ``value`` is the value as sent and stays in memory: storage keeps its type,
    precision, a keyed hash and a masked excerpt (``appliance``), never the value
    unless raw evidence was asked for.
    """

    data_type: str  # location, wifi_scan, cell_tower, imei, imsi, iccid, mac, phone, email, ...
    path: str  # where in the payload: $.loc.lat, form:imei, text, nmea
    value: str
    confidence: str = MEDIUM
    decimals: int = -1  # location: decimal places of the coarser coordinate
    metres: float = 0.0  # location: what those decimals resolve, north-south, in metres
    detail: dict[str, Any] = field(default_factory=dict)
