"""MAC vendor lookup from the IEEE registries that ship inside netaddr (offline).

netaddr parses its whole OUI and IAB indices (``oui.idx``, ``iab.idx``: one ``key,offset,size``
line per registration, ~40,000 of them) into a dict the first time any registration is asked
for: ~0.06-0.08 CPU-s, paid by every replay for a handful of MACs (issue 20, point 3). The same
two files are read here as bytes and searched for the one key asked, and the record at that
offset of ``oui.txt``/``iab.txt`` is read the way netaddr's ``OUI``/``IAB`` read it (the
organisation is the third field of the record's ``(hex)`` line, the first registration when an
OUI has several): same files, same answer (``tests/lab/test_oui.py`` compares with netaddr).
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

import netaddr

# netaddr.eui.IAB.IAB_EUI_VALUES: the OUIs whose addresses are split into IABs (IEEE)
IAB_OUIS = frozenset((0x0050C2, 0x40D855))


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
    value = eui.value
    try:
        if (value >> 24) in IAB_OUIS:
            return _organisation("iab", value >> 12)
        return _organisation("oui", value >> (40 if eui.version == 64 else 24))
    except (IndexError, KeyError):
        return ""


def _organisation(registry: str, key: int) -> str:
    """The organisation of the first registration of ``key`` in ``registry`` (oui or iab); ''
    when it is not registered."""
    idx = _index(registry)
    needle = b"\n%d," % key
    at = idx.find(needle)
    if at < 0:
        return ""
    line = idx[at + 1 : idx.find(b"\n", at + 1)]
    _, offset, size = (int(x) for x in line.split(b","))
    with files("netaddr.eui").joinpath(f"{registry}.txt").open("rb") as fh:
        fh.seek(offset)
        data = fh.read(size).decode("utf-8")
    org = ""
    for raw in data.split("\n"):
        text = raw.strip()
        if "(hex)" in text:
            org = text.split(None, 2)[2]
    return org.strip()


@lru_cache(maxsize=2)
def _index(registry: str) -> bytes:
    """The registry's index file as bytes, a newline before its first line so every key is found
    as ``\\nKEY,``."""
    return b"\n" + files("netaddr.eui").joinpath(f"{registry}.idx").read_bytes()
