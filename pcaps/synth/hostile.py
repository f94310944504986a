"""A capture whose traffic carries markup: the dashboard and the reports must show it as text.

One child watch boots (DHCP host name), asks DNS for a name, and posts its IMEI and position in clear
HTTP, where the ``Host`` header, the paths and the user agent are Markdown links and images, HTML
(``<img>``, ``<script>``) and ``javascript:`` URLs, all pointing at ``evil.test`` (RFC 2606: a name
that never resolves). A device's ``Host`` header reached a finding statement and the Findings page
rendered it as Markdown in issue 17: the analyst's browser fetched the attacker's image and showed
a clickable link. ``write`` returns the ground truth: which payload went where.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from parsers.capture_write import write_pcapng
from pcaps.synth import frames as fr
from pcaps.synth.hosts import GW_IP, GW_MAC, T0, Host
from pcaps.synth.network import Lab

EVIL = "evil.test"
MD_LINK = f"[click](http://{EVIL}/x)"
MD_BOLD = "**b**"
MD_IMAGE = f"![i](http://{EVIL}/i.png)"
HTML_IMG = f"<img src=http://{EVIL}/p.png>"
HTML_SCRIPT = f"<script>fetch('http://{EVIL}/s')</script>"
JS_URL = "javascript:alert(1)"
PAYLOADS = (MD_LINK, MD_BOLD, MD_IMAGE, HTML_IMG, HTML_SCRIPT, JS_URL)

MAC = "80:41:4e:7c:22:99"  # the child watch's vendor OUI (BBK), another device
IMEI = "860000000000007"  # Luhn-valid
SERVER = "47.96.17.101"  # the lab's api.watch.imoo.com: a Chinese organisation, so findings follow
# what the Host header says: one token without ':' (a reader takes what follows as the port), so its
# links are scheme-relative ("//evil.test/..."), which a browser fetches as http://evil.test/...
HOST_HEADER = f"[click](//{EVIL}/x)![i](//{EVIL}/i.png)"
PATHS = (f"/up/{MD_LINK}/{MD_BOLD}", f"/loc/{HTML_IMG}{MD_IMAGE}", f"/{HTML_SCRIPT}/{JS_URL}")
USER_AGENT = f"Watch {MD_LINK} {HTML_IMG} {MD_BOLD} {JS_URL}"
DHCP_NAME = f"{MD_BOLD}{MD_LINK}<img src=x>"
DNS_NAME = f"{MD_IMAGE}.{EVIL}"


def _host() -> Host:
    return Host("hostile", MAC, "192.168.50.99", "hostile watch", "child_watch", DHCP_NAME, "", [1, 3, 6, 15])


def write(path: Path, posts: int = len(PATHS)) -> dict[str, Any]:
    """The capture at ``path`` (pcapng) with the first ``posts`` of the three posts (two captures to
    compare); returns its truth: the payloads and where each went."""
    lab = Lab(seed=17)
    h = _host()
    lab.boot(0.0, h)
    addr = ipaddress.IPv4Address(SERVER).packed
    lab.add(5.0, Ether(src=h.mac, dst=GW_MAC) / IP(src=h.ip, dst=GW_IP) / UDP(sport=33333, dport=53)
            / Raw(fr.dns_query(7, DNS_NAME)))  # fmt: skip
    lab.add(5.01, Ether(src=GW_MAC, dst=h.mac) / IP(src=GW_IP, dst=h.ip) / UDP(sport=53, dport=33333)
            / Raw(fr.dns_answer(7, DNS_NAME, [addr])))  # fmt: skip
    t = 10.0
    for i, p in enumerate(PATHS[:posts]):
        body = json.dumps({"imei": IMEI, "lat": 22.543096, "lon": 114.057865, "seq": i}).encode()
        t = lab.tcp(t, h, SERVER, 80, [fr.http_post(HOST_HEADER, p, body, USER_AGENT)], [fr.http_ok()]) + 30
    order = sorted(range(len(lab.frames)), key=lambda i: (lab.frames[i][0], i))
    packets = [((T0 * 1_000_000 + round(lab.frames[i][0] * 1_000_000)) * 1000, bytes(lab.frames[i][1]))
               for i in order]  # fmt: skip
    with open(path, "wb") as fh:
        write_pcapng(fh, iter(packets))
    return {
        "mac": MAC,
        "evil": EVIL,
        "payloads": list(PAYLOADS),
        "host_header": HOST_HEADER,
        "paths": list(PATHS[:posts]),
        "user_agent": USER_AGENT,
        "dhcp_name": DHCP_NAME,
        "dns_name": DNS_NAME,
        "packets": len(packets),
    }
