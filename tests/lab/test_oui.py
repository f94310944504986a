"""The MAC vendor read from netaddr's registry files by key is netaddr's own answer.

``appliance.lookups.oui`` searches netaddr's index files for one key instead of loading them
(issue 20, point 3); netaddr's ``EUI(...).oui/.iab.registration()`` over the same files is the
oracle, on a spread of registered OUIs and IAB blocks, unregistered ones, and bad input.
"""

from __future__ import annotations

import random
import subprocess
import sys
from importlib.resources import files

import netaddr

from appliance.lookups import oui
from tests.support.paths import ROOT


def netaddr_vendor(mac: str) -> str:
    """What netaddr itself says (the code this module replaced, kept as the oracle)."""
    if int(mac[:2], 16) & 0x02:
        return "(locally administered)"
    eui = netaddr.EUI(mac)
    try:
        if eui.is_iab():
            return str(eui.iab.registration().org).strip()
        return str(eui.oui.registration().org).strip()
    except (netaddr.NotRegisteredError, IndexError, KeyError):
        return ""


def keys(registry: str) -> list[int]:
    text = files("netaddr.eui").joinpath(f"{registry}.idx").read_text()
    return sorted({int(line.split(",")[0]) for line in text.splitlines() if line})


def test_vendor_is_netaddrs_answer_for_registered_and_unregistered_blocks() -> None:
    rng = random.Random(20)
    ouis = keys("oui")
    iabs = keys("iab")
    assert len(ouis) > 30_000 and len(iabs) > 4_000  # the registries are there, not empty
    macs = [f"{k:06x}{rng.randrange(1 << 24):06x}" for k in rng.sample(ouis, 1500)]
    macs += [f"{k:09x}{rng.randrange(1 << 12):03x}" for k in rng.sample(iabs, 300)]
    registered = set(ouis)
    unregistered = [k for k in range(0x000000, 0x100000, 0x100) if k not in registered and not (k >> 16) & 2]
    macs += [f"{k:06x}123456" for k in unregistered[:200]]
    macs += ["00:00:00:00:00:01", "00-50-C2-00-10-00", "40:d8:55:00:00:00", "b827.eb11.2233"]
    for registry, digits in (("oui", 6), ("iab", 9)):  # the first and last lines of each index file
        lines = files("netaddr.eui").joinpath(f"{registry}.idx").read_text().split()
        macs += [f"{int(line.split(',')[0]):0{digits}x}".ljust(12, "0") for line in (lines[0], lines[-1])]
    named = 0
    for text in macs:
        mac = ":".join(text[i : i + 2] for i in range(0, 12, 2)) if len(text) == 12 else text
        want = netaddr_vendor(mac)
        assert oui.vendor(mac) == want, mac
        named += bool(want) and want != "(locally administered)"
    assert named > 1500  # most of the sample is registered: the comparison is not of empty strings


def test_bad_and_local_addresses() -> None:
    assert oui.vendor("02:11:22:33:44:55") == "(locally administered)"
    assert oui.vendor("zz:11:22:33:44:55") == oui.vendor("00:11") == oui.vendor("") == ""


def test_the_index_is_not_loaded() -> None:
    """netaddr's in-memory index (``netaddr.eui.ieee``) is never imported by a lookup, nor netaddr
    itself for a MAC spelt as the parsers write it."""
    code = (
        "import sys; from appliance.lookups.oui import vendor; "
        "print(vendor('b8:27:eb:11:22:33'), 'netaddr' in sys.modules, end=' '); "
        "print(vendor('B8-27-EB-11-22-33'), 'netaddr' in sys.modules, 'netaddr.eui.ieee' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    first, second = out.stdout.split("Foundation")[1:]
    assert out.stdout.count("Raspberry Pi Foundation") == 2
    assert (first.split(), second.split()) == (["False", "Raspberry", "Pi"], ["True", "False"])
