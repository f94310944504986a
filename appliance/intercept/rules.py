"""The redirect rules of the interceptor: nftables, only for the bench file's devices (issue 19).

Everything lives in one table of its own, ``inet tapaudit_intercept``: starting removes a table of
that name left by an interceptor that died (SIGKILL, power cut) before adding its own, and a
normal stop deletes it. Nothing else in the ruleset is touched. The table holds a set of the
devices' MAC addresses and one NAT prerouting rule: TCP from those MACs to the tested ports is
redirected to the interceptor's local port (nft ``redirect``, the transparent-proxy setup
mitmproxy documents for Linux); DNS, NTP and every other port and device are not matched and
pass as before. Needs ``nft`` (Debian package ``nftables``) and CAP_NET_ADMIN.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

TABLE = "tapaudit_intercept"
FAMILY = "inet"
DEFAULT_PORTS = (443, 8883)  # HTTPS, MQTT over TLS (IANA service names https, secure-mqtt)


class RulesError(Exception):
    """nft is missing or refused the rules (one-line message)."""


def _nft(args: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    nft = shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")
    if nft is None:
        raise RulesError("nft not found: install the Debian package nftables")
    return subprocess.run([nft, *args], input=stdin, capture_output=True, text=True, timeout=30)


def ruleset(macs: Sequence[str], ports: Sequence[int], listen_port: int, tag: str = "") -> str:
    """The table as an nft script (``nft -f -``)."""
    if not macs:
        raise RulesError("no device to redirect: the bench file names none")
    elems = ", ".join(m.lower() for m in macs)
    plist = ", ".join(str(int(p)) for p in ports)
    comment = f' comment "{tag}"' if tag else ""
    return (
        f"table {FAMILY} {TABLE} {{\n"
        f"  set bench_macs {{ type ether_addr; elements = {{ {elems} }}; }}\n"
        f"  chain prerouting {{\n"
        f"    type nat hook prerouting priority dstnat; policy accept;\n"
        f"    ether saddr @bench_macs meta l4proto tcp th dport {{ {plist} }}"
        f" redirect to :{int(listen_port)}{comment}\n"
        f"  }}\n"
        f"}}\n"
    )


def exists() -> bool:
    return _nft(["list", "table", FAMILY, TABLE]).returncode == 0


def remove() -> bool:
    """Delete the table if it is there; True when one was removed."""
    if not exists():
        return False
    r = _nft(["delete", "table", FAMILY, TABLE])
    if r.returncode != 0:
        raise RulesError(f"nft delete table {FAMILY} {TABLE}: {r.stderr.strip()}")
    return True


def install(macs: Sequence[str], ports: Sequence[int], listen_port: int, tag: str = "") -> bool:
    """Remove leftovers, then add the table; True when a leftover table was removed first."""
    left = remove()
    r = _nft(["-f", "-"], stdin=ruleset(macs, ports, listen_port, tag))
    if r.returncode != 0:
        raise RulesError(f"nft refused the redirect rules: {' '.join(r.stderr.split())}")
    return left


def listing() -> str:
    """``nft list ruleset`` as it stands (what the tests compare)."""
    r = _nft(["list", "ruleset"])
    if r.returncode != 0:
        raise RulesError(f"nft list ruleset: {r.stderr.strip()}")
    return r.stdout
