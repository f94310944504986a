"""MAC vendor lookup from the IEEE registries that ship inside netaddr (offline)."""

from __future__ import annotations

from functools import lru_cache

import netaddr


@lru_cache(maxsize=4096)
def vendor(mac: str) -> str:
    """IEEE registrant of a MAC's OUI (or IAB/MA-S block); '' if unregistered.

    Locally administered addresses (randomised by phones and some IoT stacks)
    have no registrant, and say so.
    """
    try:
        first = int(mac[:2], 16)
    except ValueError:
        return ""
    if first & 0x02:
        return "(locally administered)"
    try:
        eui = netaddr.EUI(mac)
    except (netaddr.AddrFormatError, ValueError):
        return ""
    try:
        if eui.is_iab():
            return str(eui.iab.registration().org).strip()
        return str(eui.oui.registration().org).strip()
    except (netaddr.NotRegisteredError, IndexError, KeyError):
        return ""
