"""Checks on the destination catalogue data (policies/catalog/*.yaml), not on code that reads it.

The catalogue maps domains (suffix match, longest suffix wins) to organisations and
services; vendors.yaml says which organisations are first party for a device maker.
Spec §4 ("Third-party domains") of ../shared/docs/requirements-spec.md lists the SDK
domains every catalogue version must cover.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
import yaml

import policies.catalog
from tests.support.paths import ROOT, SPEC

REPO = ROOT
CATALOG = REPO / "policies" / "catalog"

# the kinds the loader accepts: the data must use those and no others
KINDS = set(policies.catalog.KINDS)
ID_RE = re.compile(r"[a-z0-9_]+")
COUNTRY_RE = re.compile(r"[A-Z]{2}")
LABEL_RE = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# One domain-looking token in a spec table cell, with the table's two shorthands:
# "getui.com/.net/.cn" (same name, other TLDs) and "msgacs/jmacs.cn-zhangjiakou.aliyuncs.com"
# (other first labels). Partial names such as "ulogs." (followed by a dot) are not tokens.
SPEC_TOKEN_RE = re.compile(
    r"(?<![\w./-])"
    r"(?P<alts>(?:[a-z0-9-]+/)*)"
    r"(?P<name>[a-z0-9-]+(?:\.[a-z0-9-]+)+)"
    r"(?P<tlds>(?:/\.[a-z]{2,})*)"
    r"(?![\w./-])"
)


def _load(name: str) -> Any:
    with (CATALOG / name).open(encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def catalogue() -> dict[str, Any]:
    return _load("organisations.yaml")


@pytest.fixture(scope="module")
def organisations(catalogue: dict[str, Any]) -> list[dict[str, Any]]:
    return catalogue["organisations"]


@pytest.fixture(scope="module")
def services(organisations: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(org["id"], svc) for org in organisations for svc in org["services"]]


@pytest.fixture(scope="module")
def domains(services: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [d for _, svc in services for d in svc["domains"]]


@pytest.fixture(scope="module")
def vendors() -> list[dict[str, Any]]:
    return _load("vendors.yaml")["vendors"]


def spec_domains(text: str) -> list[str]:
    """Domains in the Domains column of the §4 table, skipping `{placeholder}` templates."""
    section = text.split("## 4.", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.lstrip().startswith("|")]
    header = [c.strip() for c in rows[0].strip().strip("|").split("|")]
    column = header.index("Domains")
    found: list[str] = []
    for row in rows[1:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if set(cells[0]) <= {"-", ":", " "}:
            continue  # the |---|---| separator
        cell = re.sub(r"`[^`]*\{[^`]*`", " ", cells[column]).lower()
        for m in SPEC_TOKEN_RE.finditer(cell):
            name = m["name"]
            if not re.fullmatch(r"[a-z]{2,}", name.rsplit(".", 1)[1]):
                continue  # not a domain (e.g. a version number)
            found.append(name)
            first, rest = name.split(".", 1)
            found += [f"{alt}.{rest}" for alt in m["alts"].split("/") if alt and alt != first]
            base = name.rsplit(".", 1)[0]
            found += [base + tld for tld in m["tlds"].split("/") if tld]
    return found


def covered(domain: str, catalogue_domains: set[str]) -> bool:
    labels = domain.split(".")
    return any(".".join(labels[i:]) in catalogue_domains for i in range(len(labels) - 1))


# ------------------------------------------------------------------ organisations.yaml


def test_header(catalogue: dict[str, Any]) -> None:
    assert re.fullmatch(r"\d{4}\.\d+\.\d+", catalogue["version"])
    assert isinstance(catalogue["sources"], dict) and catalogue["sources"]
    for key, what in catalogue["sources"].items():
        assert ID_RE.fullmatch(key), key
        assert isinstance(what, str) and what.strip(), key
    assert "spec" in catalogue["sources"]


def test_enough_organisations(organisations: list[dict[str, Any]]) -> None:
    assert len(organisations) >= 100


def test_organisation_fields(organisations: list[dict[str, Any]]) -> None:
    allowed = {"id", "name", "name_zh", "country", "services"}
    for org in organisations:
        assert set(org) <= allowed, (org.get("id"), set(org) - allowed)
        assert ID_RE.fullmatch(org["id"]), org["id"]
        assert isinstance(org["name"], str) and org["name"].strip(), org["id"]
        if "name_zh" in org:
            assert isinstance(org["name_zh"], str) and org["name_zh"].strip(), org["id"]
        assert COUNTRY_RE.fullmatch(org["country"]), (org["id"], org["country"])
        assert org["services"], f"{org['id']} has no services"


def test_organisation_ids_unique(organisations: list[dict[str, Any]]) -> None:
    repeated = [i for i, n in Counter(org["id"] for org in organisations).items() if n > 1]
    assert not repeated


def test_service_fields(catalogue: dict[str, Any], services: list[tuple[str, dict[str, Any]]]) -> None:
    for org_id, svc in services:
        where = f"{org_id}: {svc.get('name')}"
        assert set(svc) - {"addresses"} == {"name", "kind", "domains", "source"}, where
        assert isinstance(svc["name"], str) and svc["name"].strip(), where
        assert svc["kind"] in KINDS, where
        assert svc["source"] in catalogue["sources"], where
        assert isinstance(svc["domains"], list) and svc["domains"], where


def test_domains_well_formed(domains: list[str]) -> None:
    for domain in domains:
        assert isinstance(domain, str), domain
        assert domain == domain.lower().strip(), domain
        assert "://" not in domain and "*" not in domain and "/" not in domain, domain
        assert "." in domain and not domain.startswith(".") and not domain.endswith("."), domain
        assert all(LABEL_RE.fullmatch(label) for label in domain.split(".")), domain


def test_no_domain_repeated(domains: list[str]) -> None:
    repeated = sorted(d for d, n in Counter(domains).items() if n > 1)
    assert not repeated


def test_spec_domains_covered(domains: list[str]) -> None:
    if not SPEC.exists():
        pytest.skip(f"{SPEC} not found")
    wanted = spec_domains(SPEC.read_text(encoding="utf-8"))
    # The §4 table has ~30 rows and ~75 domains: a much smaller number means the parser broke.
    assert len(wanted) >= 60, wanted
    present = set(domains)
    missing = sorted({d for d in wanted if not covered(d, present)})
    assert not missing


def test_spec_domains_cite_spec(services: list[tuple[str, dict[str, Any]]]) -> None:
    """A domain copied from the §4 table sits in a service whose source is the spec."""
    if not SPEC.exists():
        pytest.skip(f"{SPEC} not found")
    wanted = set(spec_domains(SPEC.read_text(encoding="utf-8")))
    wrong = [
        (org_id, svc["name"], d)
        for org_id, svc in services
        for d in svc["domains"]
        if d in wanted and svc["source"] != "spec"
    ]
    assert not wrong


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("getui.com/.net/.cn, igexin.com", ["getui.com", "getui.net", "getui.cn", "igexin.com"]),
        (
            "`{pk}.iot-as-mqtt.{region}.aliyuncs.com`, msgacs/jmacs.cn-zhangjiakou.aliyuncs.com",
            ["jmacs.cn-zhangjiakou.aliyuncs.com", "msgacs.cn-zhangjiakou.aliyuncs.com"],
        ),
        ("io.mi.com (ha.api., cn-ha.mqtt.), miot-spec.org", ["io.mi.com", "miot-spec.org"]),
        ("sensorsdata.cn; also match path `/sa?project=`", ["sensorsdata.cn"]),
    ],
)
def test_spec_parser(cell: str, expected: list[str]) -> None:
    table = f"## 4. T\n\n| Service | Domains |\n|---|---|\n| x | {cell} |\n\n## 5. Next\n"
    assert spec_domains(table) == expected


# ------------------------------------------------------------------ vendors.yaml


def test_vendor_fields(vendors: list[dict[str, Any]]) -> None:
    assert len(vendors) >= 40
    for vendor in vendors:
        assert set(vendor) <= {"id", "match", "organisations", "note"}, vendor.get("id")
        assert ID_RE.fullmatch(vendor["id"]), vendor["id"]
        assert vendor["match"] and vendor["organisations"], vendor["id"]
        for text in vendor["match"]:
            assert isinstance(text, str) and text.strip() and text == text.lower(), (vendor["id"], text)
        if "note" in vendor:
            assert isinstance(vendor["note"], str) and vendor["note"].strip(), vendor["id"]
    repeated = [i for i, n in Counter(v["id"] for v in vendors).items() if n > 1]
    assert not repeated


def test_vendor_organisations_exist(
    vendors: list[dict[str, Any]], organisations: list[dict[str, Any]]
) -> None:
    known = {org["id"] for org in organisations}
    for vendor in vendors:
        unknown = set(vendor["organisations"]) - known
        assert not unknown, (vendor["id"], unknown)
        assert len(set(vendor["organisations"])) == len(vendor["organisations"]), vendor["id"]


@pytest.mark.parametrize(
    ("text", "vendor_id"),
    [
        ("Huawei", "huawei"),
        ("Huawei Technologies Co.,Ltd", "huawei"),
        ("BBK (imoo)", "bbk"),
        ("Xiaomi", "xiaomi"),
        ("Xiaomi Communications Co Ltd", "xiaomi"),
        ("Beijing Xiaomi Electronics Co., Ltd.", "xiaomi"),
        ("Lumi (Aqara)", "lumi"),
        ("EZVIZ", "hikvision"),
        ("Hangzhou Hikvision Digital Technology Co.,Ltd.", "hikvision"),
        ("iFLYTEK", "iflytek"),
        ("Belkin International Inc.", "belkin"),
        ("TP-LINK TECHNOLOGIES CO.,LTD.", "tplink"),
        ("Amazon Technologies Inc.", "amazon"),
        ("Google, Inc.", "google"),
        ("Apple, Inc.", "apple"),
        ("Baidu Online Network Technology (Beijing) Co., Ltd", "baidu"),
        ("Tuya Smart", "tuya"),
    ],
)
def test_vendor_examples_match(vendors: list[dict[str, Any]], text: str, vendor_id: str) -> None:
    matched = {v["id"] for v in vendors if any(m in text.lower() for m in v["match"])}
    assert vendor_id in matched


def test_lumi_is_first_party_with_xiaomi(vendors: list[dict[str, Any]]) -> None:
    lumi = next(v for v in vendors if v["id"] == "lumi")
    assert set(lumi["organisations"]) == {"lumi", "xiaomi"}


def test_service_addresses_are_canonical_ip_addresses() -> None:
    """Addresses are matched as text against the flows' remote_ip: they must be in its spelling."""
    import ipaddress

    data = yaml.safe_load((CATALOG / "organisations.yaml").read_text(encoding="utf-8"))
    seen: list[str] = []
    for org in data["organisations"]:
        for svc in org["services"]:
            for addr in svc.get("addresses") or []:
                assert str(ipaddress.ip_address(addr)) == addr, addr
                assert svc["kind"] == "dns", (org["id"], addr)  # only public resolvers so far
                seen.append(addr)
    assert len(seen) == len(set(seen)) >= 10
