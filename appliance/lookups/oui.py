"""MAC vendor lookup from the IEEE registries that ship inside netaddr (offline).

netaddr parses its whole OUI and IAB indices (``oui.idx``, ``iab.idx``: one ``key,offset,size``
line per registration, ~40,000 of them) into a dict the first time any registration is asked
for: ~0.06-0.08 CPU-s, paid by every replay for a handful of MACs (issue 20, point 3). The same
two files are read here as bytes and searched for the one key asked, and the record at that
offset of ``oui.txt``/``iab.txt`` is read the way netaddr's ``OUI``/``IAB`` read it (the
organisation is the third field of the record's ``(hex)`` line, the first registration when an
OUI has several): same files, same answer (``tests/lab/test_oui.py`` compares with netaddr). A
MAC as the parsers write it (``aa:bb:cc:dd:ee:ff``) is read without importing netaddr at all.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

# netaddr.eui.IAB.IAB_EUI_VALUES: the OUIs whose addresses are split into IABs (IEEE)
IAB_OUIS = frozenset((0x0050C2, 0x40D855))
# how the parsers write a MAC: read here directly, any other spelling by netaddr (imported then)
CANONICAL = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}")


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
    if CANONICAL.fullmatch(mac):
        value, bits = int(mac.replace(":", ""), 16), 48
    else:
        import netaddr

        try:
            eui = netaddr.EUI(mac)
        except (netaddr.AddrFormatError, ValueError):
            return ""
        value, bits = eui.value, eui.version
    try:
        if (value >> 24) in IAB_OUIS:
            return _organisation("iab", value >> 12)
        return _organisation("oui", value >> (40 if bits == 64 else 24))
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
    end = idx.find(b"\n", at + 1)
    line = idx[at + 1 : end if end >= 0 else len(idx)]
    _, offset, size = (int(x) for x in line.split(b","))
    with (_folder() / f"{registry}.txt").open("rb") as fh:
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
    return b"\n" + (_folder() / f"{registry}.idx").read_bytes()


@lru_cache(maxsize=1)
def _folder() -> Path:
    """netaddr's ``eui`` folder, found without importing netaddr (its package imports all of it)."""
    spec = find_spec("netaddr")
    if spec is None or not spec.submodule_search_locations:
        raise KeyError("netaddr")  # not installed: no registrant is known
    return Path(next(iter(spec.submodule_search_locations))) / "eui"
