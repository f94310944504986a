"""No persona value is stored or exported in the clear by default (requirements: masked by default
everywhere; issue 15, privacy fails closed).

The lab is replayed with its bench file (which names each device's persona) and assessed; then
every column of every table the schema declares (a table added later is scanned too) and what the
CLI exports (``--json`` of devices, destinations, observations, findings, and each device's report
in Markdown and JSON) are searched for every persona value in every encoding the detectors know:
as written, URL-encoded, base64, hex, its digits alone, and its MD5, SHA-1 and SHA-256 digests.
"""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from pathlib import Path

import pytest

from appliance.store.backends import open_store
from appliance.store.schema import TABLES
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
    db = tmp_path_factory.mktemp("at-rest") / "db"
    assessed_lab(str(db))
    return db


def test_persona_values_are_known() -> None:
    """The scan has something to look for: every bench persona's identifiers, in many forms."""
    table = needles()
    assert any(v.startswith("imei=") for v in table.values())
    assert any(v.startswith("email=") for v in table.values()) and len(table) > 50


def test_no_persona_value_in_any_table(lab: Path) -> None:
    table, found = needles(), {}
    store = open_store(str(lab))
    try:
        for t in TABLES:
            for row in store.query(f"SELECT * FROM {{db}}.`{t.name}`"):
                for col, value in row.items():
                    hits_in(str(value), f"{t.name}.{col}", found, table)
    finally:
        store.close()
    assert found == {}


def test_no_persona_value_in_exports(lab: Path, tmp_path: Path) -> None:
    table, found = needles(), {}
    for args in (("devices",), ("destinations",), ("observations", "--limit", "100000"), ("findings",)):
        p = cli(*args, "--json", db=lab)
        assert p.returncode == 0, p.stderr
        hits_in(p.stdout, f"{args[0]} --json", found, table)
    for mac in lab_options().bench.devices:
        for fmt in ("md", "json"):
            out = tmp_path / f"{mac.replace(':', '')}.{fmt}"
            p = cli("report", "--device", mac, "--format", fmt, "-o", str(out), db=lab)
            if p.returncode != 0 and "not seen" in p.stderr:  # a bench device the capture lacks
                continue
            assert p.returncode == 0, p.stderr
            hits_in(out.read_text(encoding="utf-8"), f"report {mac} {fmt}", found, table)
    assert found == {}


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
    ],
)
def test_host_names_keep_the_device_and_mask_the_person(announced: str, stored: str) -> None:
    from appliance.ingest.inventory import Inventory
    from parsers.lan import LanPrefixes

    bench = lab_options().bench
    assert Inventory(LanPrefixes(bench.lan_prefixes), bench)._name(announced) == stored
    assert Inventory(LanPrefixes(bench.lan_prefixes), bench, raw=True)._name(announced) == announced
