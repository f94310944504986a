"""The replay benchmark's contenders: how each tool is run on a capture and what it reports.

Every tool reads the same file in a process of its own (``bench/replay.py`` times it):

- ``tapaudit``, ``tapaudit-j2``: the whole ``tapaudit replay`` into a fresh embedded store,
  from the command template ``TAPAUDIT`` (``{jobs}`` becomes ``--jobs N`` when this tree's
  ``replay`` has the option, issue 20 point 4; see ``jobs_supported``);
- ``tshark``: the 5-tuple fields of every packet (``-T fields``), Wireshark's full dissection;
- ``scapy``: ``RawPcapReader`` and ``Ether()`` on every packet;
- ``dpkt``: ``dpkt.pcap.Reader`` (``pcapng.Reader`` for pcapng) and ``dpkt.ethernet.Ethernet``
  on every packet, which decodes IP, TCP and UDP eagerly: the bare read-and-decode floor;
- ``nfstream``, ``nfstream-dpi``: NFStreamer's flows without DPI, and with nDPI's default
  dissection (20 packets per flow);
- ``pyshark``: ``FileCapture`` over a prefix only (it runs ~500 packets/s).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TAPAUDIT = "{python} -m appliance.cli replay {capture} --db {db} --json -q {jobs}"
DEFAULT_TOOLS = ("tapaudit", "tapaudit-j2", "tshark", "scapy", "dpkt", "nfstream", "nfstream-dpi")
ALL_TOOLS = (*DEFAULT_TOOLS, "pyshark")

SCAPY = """
import sys
from scapy.layers.l2 import Ether
from scapy.utils import RawPcapReader
n = 0
for data, _meta in RawPcapReader(sys.argv[1]):
    Ether(data)
    n += 1
print(n)
"""
DPKT = """
import sys
import dpkt
with open(sys.argv[1], "rb") as f:
    magic = f.read(4)
    f.seek(0)
    reader = dpkt.pcapng.Reader(f) if magic == b"\\x0a\\x0d\\x0d\\x0a" else dpkt.pcap.Reader(f)
    n = 0
    for _ts, buf in reader:
        dpkt.ethernet.Ethernet(buf)
        n += 1
print(n)
"""
NFSTREAM = """
import sys
from nfstream import NFStreamer
dpi = int(sys.argv[2])
streamer = NFStreamer(source=sys.argv[1], n_dissections=dpi, statistical_analysis=False, n_meters=0)
flows = sum(1 for _ in streamer)
print(flows)
"""
PYSHARK = """
import sys
import pyshark
cap = pyshark.FileCapture(sys.argv[1], keep_packets=False)
n = 0
for pkt in cap:
    n += 1
    if n >= int(sys.argv[2]):
        break
cap.close()
print(n)
"""
TSHARK_FIELDS = [
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "ip.proto",
    "ipv6.nxt",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
]
WHAT = {
    "tapaudit": "replay, one worker: decode, flows, every dissector and detector, destinations, "
    "inventory, chDB inserts",
    "tapaudit-j2": "the same replay with --jobs 2, pinned to 2 CPUs",
    "tshark": "tshark -T fields (5-tuple), full dissection",
    "scapy": "RawPcapReader + Ether() decode of every packet",
    "dpkt": "pcap.Reader + Ethernet() decode (IP, TCP, UDP) of every packet",
    "nfstream": "NFStreamer flows, no DPI",
    "nfstream-dpi": "NFStreamer flows with nDPI (20 packets/flow)",
    "pyshark": "FileCapture iteration (a prefix only)",
}


@dataclass
class Invocation:
    """One tool on one capture: the command, how many CPUs it is pinned to, whether its
    stdout is read (tshark's is thrown away), and the prefix it stops at (pyshark)."""

    cmd: list[str]
    cpus: int = 1
    keep_stdout: bool = True
    packets_limit: int = 0


def tapaudit_command(template: str, capture: Path, db: str, jobs: int | None) -> list[str]:
    """The template's words, ``{jobs}`` standing for ``--jobs N`` (or nothing when ``jobs`` is
    None: a tree without the option); ``--bench`` added when the capture has a bench file beside
    it (``<name>.bench.yaml``, as the detector-heavy generator writes: the personas its detectors
    look for)."""
    out: list[str] = []
    for word in shlex.split(template):
        if word == "{jobs}":
            out += ["--jobs", str(jobs)] if jobs is not None else []
        else:
            out.append(word.format(python=sys.executable, capture=capture, db=db))
    bench = capture.with_suffix(".bench.yaml")
    if bench.is_file() and "--bench" not in out:
        out += ["--bench", str(bench)]
    return out


def jobs_supported(template: str) -> bool:
    """Whether this ``tapaudit replay`` takes ``--jobs`` (read from its ``--help``), so the
    benchmark runs with the option as soon as it is merged and without it until then."""
    words = tapaudit_command(template, Path("x"), "x", None)
    if "replay" not in words:
        return False
    cmd = [*words[: words.index("replay") + 1], "--help"]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    try:
        help_text = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--jobs" in help_text.stdout


def invocation(
    tool: str, capture: Path, db: str, template: str, jobs: bool, pyshark_packets: int
) -> Invocation:
    py = sys.executable
    if tool in ("tapaudit", "tapaudit-j2"):
        n = 2 if tool == "tapaudit-j2" else 1
        return Invocation(tapaudit_command(template, capture, db, n if jobs else None), cpus=n)
    if tool == "tshark":
        cmd = ["tshark", "-n", "-r", str(capture), "-T", "fields"]
        for f in TSHARK_FIELDS:
            cmd += ["-e", f]
        return Invocation(cmd, keep_stdout=False)
    if tool == "scapy":
        return Invocation([py, "-c", SCAPY, str(capture)])
    if tool == "dpkt":
        return Invocation([py, "-c", DPKT, str(capture)])
    if tool in ("nfstream", "nfstream-dpi"):
        return Invocation([py, "-c", NFSTREAM, str(capture), "20" if tool == "nfstream-dpi" else "0"])
    if tool == "pyshark":
        return Invocation(
            [py, "-c", PYSHARK, str(capture), str(pyshark_packets)], packets_limit=pyshark_packets
        )
    raise ValueError(f"unknown tool {tool}")


def parse_output(tool: str, stdout: str) -> tuple[int, str, dict[str, object]]:
    """(packets the tool says it handled or 0 when it does not say, a note, facts to compare)."""
    if tool.startswith("tapaudit"):
        cap = json.loads(stdout)["captures"][0]
        if cap.get("status") != "ingested":
            raise RuntimeError(f"tapaudit: capture {cap.get('status')}: {cap.get('read_error', '')}")
        facts = {"packets": cap["packets"], "flows": cap["flows"], "records": cap.get("records", {})}
        return int(cap["packets"]), f"{cap['flows']:,} flows stored", facts
    if tool == "tshark":
        return 0, "", {}
    last = int(stdout.split()[-1])
    if tool.startswith("nfstream"):
        return 0, f"{last:,} flows", {"flows": last}
    return last, "", {}
