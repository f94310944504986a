"""No persona value is stored or exported in the clear by default (requirements: masked by default
everywhere; issue 15, privacy fails closed).

The lab is replayed with its bench file (which names each device's persona) and assessed; then
every column of every table the schema declares (a table added later is scanned too) and what the
CLI exports (``--json`` of devices, destinations, observations, findings, and each device's report
in Markdown and JSON) are searched for every persona value in every encoding the detectors know:
as written, URL-encoded, base64, hex, its digits alone, and its MD5, SHA-1 and SHA-256 digests.

The same scan runs on a real capture (nDPI's ``alexa-app.pcapng``: an LG phone that names itself
``android-<its Android ID>`` in DHCP) with a bench persona holding that Android ID: nothing by
default, and the scan does see it once raw evidence is asked for (so the zero is not blindness).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import urllib.parse
from pathlib import Path

import pytest
import yaml

from appliance.findings.confirm import confirm_all
from appliance.findings.evidence import export
from appliance.store.backends import open_store
from appliance.store.queries import findings as current_findings
from appliance.store.schema import TABLES
from tests.support.paths import shared_path
from tests.support.run import assessed_lab, cli, lab_options

pytestmark = pytest.mark.xdist_group("at_rest")


def encodings(value: str) -> set[str]:
    forms = {
        value,
        urllib.parse.quote(value),
        urllib.parse.quote_plus(value),
        base64.b64encode(value.encode()).decode(),
        value.encode().hex(),
        *(h(value.encode()).hexdigest() for h in (hashlib.md5, hashlib.sha1, hashlib.sha256)),
    }
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) >= 8:  # a phone number as the digits a device sends
        forms.add(digits)
    return {f.lower() for f in forms if len(f) >= 6}


def needles() -> dict[str, str]:
    """Every encoded form of every persona value on the lab's bench -> the value it encodes."""
    out = {}
    for dev in lab_options().bench.devices.values():
        for key, value in (dev.persona or {}).items():
            if key != "home":  # coordinates: their precision is measured, not matched as text
                out.update(dict.fromkeys(encodings(str(value)), f"{key}={value}"))
    return out


def hits_in(text: str, where: str, found: dict[str, int], table: dict[str, str]) -> None:
    low = text.lower()
    for form, persona in table.items():
        if form in low:
            key = f"{where}: {persona}"
            found[key] = found.get(key, 0) + 1


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The assessed lab, every finding checked by Wireshark too (issue 22: the scan covers the
    ``confirmations`` table, and ``in_exports`` what ``evidence --dissect`` prints)."""
    db = tmp_path_factory.mktemp("at-rest") / "db"
    assessed_lab(str(db))
    if shutil.which("tshark"):
        store = open_store(str(db))
        try:
            confirm_all(store, [str(f["finding_id"]) for f in current_findings(store)])
        finally:
            store.close()
    return db


def test_persona_values_are_known() -> None:
    """The scan has something to look for: every bench persona's identifiers, in many forms."""
    table = needles()
    assert any(v.startswith("imei=") for v in table.values())
    assert any(v.startswith("email=") for v in table.values()) and len(table) > 50


def in_tables(db: Path, table: dict[str, str]) -> dict[str, int]:
    """Where in the stored rows (table.column) each persona value occurs, and how often."""
    found: dict[str, int] = {}
    store = open_store(str(db))
    try:
        for t in TABLES:
            for row in store.query(f"SELECT * FROM {{db}}.`{t.name}`"):
                for col, value in row.items():
                    hits_in(str(value), f"{t.name}.{col}", found, table)
    finally:
        store.close()
    return found


def in_exports(db: Path, macs: list[str], out_dir: Path, table: dict[str, str]) -> dict[str, int]:
    """Where in the CLI's JSON exports (flows: what the dashboard's CSV download holds), each
    device's report (Markdown, JSON, HTML) and the evidence metadata of every finding each persona
    value occurs. The evidence capture itself is the device's packets, raw by definition."""
    found: dict[str, int] = {}
    commands = (("devices",), ("destinations",), ("flows", "--limit", "0"), ("observations", "--limit", "0"))
    for args in (*commands, ("findings",), ("uploads",), ("periods",)):
        p = cli(*args, "--json", db=db)
        assert p.returncode == 0, p.stderr
        hits_in(p.stdout, f"{args[0]} --json", found, table)
    findings = json.loads(cli("findings", "--json", db=db).stdout)
    store = open_store(str(db))  # what `tapaudit evidence --json` prints, in one process
    try:
        for f in findings:
            fid = str(f["finding_id"])
            res = export(store, fid, str(out_dir / f"{fid}.pcap"))
            hits_in(json.dumps(res.as_dict(), ensure_ascii=False), "evidence --json", found, table)
    finally:
        store.close()
    if shutil.which("tshark"):  # one finding per protocol, as Wireshark dissects it (text and JSON)
        for proto in ("HTTP", "MQTT", "CoAP"):
            f = next((f for f in findings if f" over {proto} to " in str(f["statement"])), None)
            for flags in (("--dissect",), ("--dissect", "--json")) if f else ():
                p = cli("evidence", str(f["finding_id"]), *flags, db=db)
                assert p.returncode == 0, p.stderr
                hits_in(p.stdout, f"evidence {' '.join(flags)} {proto}", found, table)
    for mac in macs:
        for fmt in ("md", "json", "html"):
            out = out_dir / f"{mac.replace(':', '')}.{fmt}"
            p = cli("report", "--device", mac, "--format", fmt, "-o", str(out), db=db)
            if p.returncode != 0 and "not seen" in p.stderr:  # a bench device the capture lacks
                continue
            assert p.returncode == 0, p.stderr
            hits_in(out.read_text(encoding="utf-8"), f"report {mac} {fmt}", found, table)
    return found


def test_no_persona_value_in_any_table(lab: Path) -> None:
    assert in_tables(lab, needles()) == {}


def test_no_persona_value_in_exports(lab: Path, tmp_path: Path) -> None:
    assert in_exports(lab, list(lab_options().bench.devices), tmp_path, needles()) == {}


# nDPI tests/cfgs/default/pcap/alexa-app.pcapng: the phone's DHCP requests name it with its Android ID
# (tshark: dhcp.option.hostname == "android-1c1335ec95a27318" from 78:f8:82:d3:fb:c2)
REAL_MAC, REAL_ANDROID_ID = "78:f8:82:d3:fb:c2", "1c1335ec95a27318"


def replayed_real(tmp_path: Path, *flags: str) -> Path:
    """The real capture replayed and assessed with a bench naming the phone's persona (written here)."""
    bench = tmp_path / "bench.yaml"
    bench.write_text(yaml.safe_dump({"devices": {REAL_MAC: {"persona": {"android_id": REAL_ANDROID_ID}}}}))
    db = tmp_path / "db"
    cap = shared_path("nDPI", "pcap", "alexa-app.pcapng")
    p = cli("replay", str(cap), "--bench", str(bench), "-q", *flags, db=db)
    assert p.returncode == 0, p.stderr
    assert cli("assess", db=db).returncode == 0
    return db


@pytest.mark.tshark
def test_real_capture_persona_at_rest(tmp_path: Path) -> None:
    import subprocess

    cap = shared_path("nDPI", "pcap", "alexa-app.pcapng")
    seen = subprocess.run(
        ["tshark", "-r", str(cap), "-Y", "dhcp.option.hostname", "-T", "fields", "-e", "eth.src",
         "-e", "dhcp.option.hostname"], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert f"{REAL_MAC}\tandroid-{REAL_ANDROID_ID}" in seen  # the value really is in the capture
    table = {f: f"android_id={REAL_ANDROID_ID}" for f in encodings(REAL_ANDROID_ID)}
    (tmp_path / "masked").mkdir()
    (tmp_path / "raw").mkdir()
    masked = replayed_real(tmp_path / "masked")
    found = {**in_tables(masked, table), **in_exports(masked, [REAL_MAC], tmp_path / "masked", table)}
    assert found == {}
    raw = replayed_real(tmp_path / "raw", "--raw-evidence")
    found = {**in_tables(raw, table), **in_exports(raw, [REAL_MAC], tmp_path / "raw", table)}
    n = sum(found.values())
    print(f"\nalexa-app.pcapng, --raw-evidence: {n} hits in {len(found)} places: {sorted(found)}")
    assert "devices.dhcp_hostname: " + f"android_id={REAL_ANDROID_ID}" in found
    assert any(k.startswith("devices --json") for k in found)  # the scan sees it when it is there


@pytest.mark.parametrize(
    ("announced", "stored"),
    [
        ("John's iMac", "J***'s iMac"),
        ("Johns-iPhone", "J***s-iPhone"),
        ("Wang-Fangs-MacBook-Pro", "W********s-MacBook-Pro"),
        ("wangfang-pad", "w*******-pad"),  # a bench persona's name, wherever it stands
        ("Li Xiaoming's Echo._device-info._tcp.local", "L**********'s Echo._device-info._tcp.local"),
        ("HUAWEI-WATCH-GT", "HUAWEI-WATCH-GT"),  # a product's own name stays: it identifies the device
        ("xiaomi-speaker-lx06", "xiaomi-speaker-lx06"),
        ("android-1c1335ec95a27318", "android-1c1**********318"),  # an Android ID (AOSP net.hostname)
        ("EZVIZ-C6N-SND439536B32", "EZVIZ-C6N-SND******B32"),  # the camera persona's serial
        ("ESP_5A1121", "ESP_5A1121"),  # three bytes of a MAC: the device's, kept
    ],
)
def test_host_names_keep_the_device_and_mask_the_person(announced: str, stored: str) -> None:
    from appliance.ingest.inventory import Inventory
    from parsers.lan import LanPrefixes

    bench = lab_options().bench
    assert Inventory(LanPrefixes(bench.lan_prefixes), bench)._name(announced) == stored
    assert Inventory(LanPrefixes(bench.lan_prefixes), bench, raw=True)._name(announced) == announced


@pytest.mark.parametrize(
    ("announced", "stored"),
    [
        ("_kerberos.Lucas-iMac.local", "_kerberos.L***s-iMac.local"),  # nDPI iphone.pcap's answer
        ("Luca’s iMac._airplay._tcp.local", "L***’s iMac._airplay._tcp.local"),
        ("Philips-hue.local", "Philips-hue.local"),
        ("_spotify-connect._tcp.local", "_spotify-connect._tcp.local"),
    ],
)
def test_mdns_names_are_masked_label_by_label(announced: str, stored: str) -> None:
    """An owner's name stands inside an mDNS name as often as at its head: the dns and devices
    tables mask it wherever it stands."""
    from appliance.masking import mask_dns_name

    assert mask_dns_name(announced) == stored
