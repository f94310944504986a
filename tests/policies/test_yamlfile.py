"""Every YAML file a lab edits fails the same way: one line naming the file and the line of the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.lab.bench import BenchError, load_bench
from appliance.lab.phases import PhasesError, load_phases
from policies.catalog import CatalogError, load_catalog
from policies.declaration import DeclarationError, load_declaration
from policies.engine import PackError, load_pack
from policies.necessity import NecessityError, load_necessity

# every YAML input the user gives, with the error each loader raises
EVERY_LOADER = pytest.mark.parametrize(
    ("name", "load", "error"),
    [
        ("bench.yaml", load_bench, BenchError),
        ("phases.yaml", load_phases, PhasesError),
        ("decl.yaml", load_declaration, DeclarationError),
        ("pack.yaml", load_pack, PackError),
        ("necessity.yaml", load_necessity, NecessityError),
    ],
)
BROKEN = "a: 1\nb: [2\nc: 3\n"  # the flow sequence is never closed: libyaml names line 3


@EVERY_LOADER
def test_not_yaml_is_one_line_with_file_and_line(
    tmp_path: Path, name: str, load: object, error: type
) -> None:
    path = tmp_path / name
    path.write_text(BROKEN)
    with pytest.raises(error) as exc:
        load(str(path))  # type: ignore[operator]
    msg = str(exc.value)
    assert "\n" not in msg
    assert name in msg and "not YAML at line 3" in msg, msg


def test_catalogue_not_yaml(tmp_path: Path) -> None:
    (tmp_path / "organisations.yaml").write_text(BROKEN)
    with pytest.raises(CatalogError, match=r"organisations.yaml: not YAML at line 3 \(") as exc:
        load_catalog(tmp_path)
    assert "\n" not in str(exc.value)


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DeclarationError, match="No such file or directory"):
        load_declaration(str(tmp_path / "absent.yaml"))


def test_catalogue_names_in_both_languages() -> None:
    """The report's organisation names come from the one catalogue read, in English and Chinese."""
    from policies.wording import org_en, org_zh

    cat = load_catalog()
    oid = next(o for o in cat.names if cat.names_zh[o] != cat.names[o])
    assert org_en(oid) == cat.names[oid] and org_zh(oid) == cat.names_zh[oid]
    assert org_en("no-such-org") == "no-such-org" and org_zh("") == "未知机构"


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs" bench file: nine nested anchors of nine aliases each under a device's
    notes (9**9 = 387 million strings once expanded), then used as its addresses; ~560 bytes, the
    size of the one that took 86 s and 7.8 GB (issue 17)."""
    lines = ["devices:", "  aa:bb:cc:dd:ee:01:", "    notes:",
             "      x0: &a0 [" + ",".join(['"lol"'] * width) + "]"]  # fmt: skip
    for i in range(1, levels):
        lines.append(f"      x{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]")
    lines.append(f"    addresses: *a{levels - 1}")
    return "\n".join(lines) + "\n"


@EVERY_LOADER
def test_an_alias_bomb_is_refused_at_once(tmp_path: Path, name: str, load: object, error: type) -> None:
    import time

    path = tmp_path / name
    path.write_text(alias_bomb())
    assert len(path.read_bytes()) < 600
    began = time.perf_counter()
    with pytest.raises(error) as exc:
        load(str(path))  # type: ignore[operator]
    took = time.perf_counter() - began
    msg = str(exc.value)
    assert "\n" not in msg and len(msg) < 300, msg[:300]
    assert name in msg and "aliases expand to more than 200,000 values" in msg, msg
    assert took < 0.5, took


def test_the_catalogue_refuses_an_alias_bomb(tmp_path: Path) -> None:
    (tmp_path / "organisations.yaml").write_text(alias_bomb())
    with pytest.raises(CatalogError, match=r"organisations.yaml: refused: its aliases expand"):
        load_catalog(tmp_path)


def test_an_alias_bomb_costs_no_memory(tmp_path: Path) -> None:
    """In a process of its own, the bench loader's peak memory before and after the bomb: the
    expansion is counted on the shared nodes, never built."""
    import subprocess
    import sys

    from tests.support.paths import ROOT

    path = tmp_path / "bench.yaml"
    path.write_text(alias_bomb())
    code = (
        "import resource, sys, time\n"
        "from appliance.lab.bench import BenchError, load_bench\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "t = time.perf_counter()\n"
        "try:\n    load_bench(sys.argv[1])\nexcept BenchError:\n    pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, time.perf_counter() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True)  # fmt: skip
    grown_kb, took = out.stdout.split()
    assert int(grown_kb) < 10_000 and float(took) < 0.5, out.stdout


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text("rules: &r\n  - *r\n")
    with pytest.raises(PackError, match=r"pack.yaml: refused: a recursive alias"):
        load_pack(str(path))


def test_shared_anchors_within_the_limit_still_load(tmp_path: Path) -> None:
    """A bench file that shares one persona between two devices (what anchors are for) loads."""
    path = tmp_path / "bench.yaml"
    path.write_text(
        "devices:\n"
        "  aa:bb:cc:dd:ee:01: {name: one, category: watch, persona: &p {imei: '356938035643809'}}\n"
        "  aa:bb:cc:dd:ee:02: {name: two, category: watch, persona: *p}\n"
    )
    bench = load_bench(str(path))
    assert [d.persona for d in bench.devices.values()] == [{"imei": "356938035643809"}] * 2


def test_the_shipped_catalogue_is_read_back_from_the_cache_as_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalogue's document comes from the cache folder after the first read (issue 20, point 3):
    the same document as PyYAML's pure-Python loader makes of the file, whatever happened to the
    cache (cut, altered, in the way of a file) or to the file (edited)."""
    import yaml

    from policies.catalog import CATALOG_DIR, Catalog
    from policies.yamlfile import read_yaml

    cache = tmp_path / "cache"
    monkeypatch.setenv("TAPAUDIT_CACHE_DIR", str(cache))
    src = CATALOG_DIR / "organisations.yaml"
    want = yaml.load(src.read_bytes(), Loader=yaml.SafeLoader)
    assert read_yaml(src, CatalogError, shipped=True)[0] == want  # parsed, then kept
    (entry,) = cache.iterdir()
    kept = entry.read_bytes()
    assert read_yaml(src, CatalogError, shipped=True)[0] == want  # read back
    for broken in (kept[:-7], kept[:40] + bytes([kept[40] ^ 1]) + kept[41:], b""):
        entry.write_bytes(broken)
        assert read_yaml(src, CatalogError, shipped=True)[0] == want, len(broken)
        assert entry.read_bytes() == kept  # parsed again and kept again

    edited = tmp_path / "organisations.yaml"
    edited.write_bytes(src.read_bytes().replace(b"version:", b"version: edited-", 1))
    assert read_yaml(edited, CatalogError, shipped=True)[0] == yaml.load(
        edited.read_bytes(), Loader=yaml.SafeLoader
    )
    assert len(list(cache.iterdir())) == 2

    monkeypatch.setenv("TAPAUDIT_CACHE_DIR", str(edited / "cache"))  # cannot be made: a file is in the way
    assert read_yaml(src, CatalogError, shipped=True)[0] == want
    monkeypatch.setenv("TAPAUDIT_CACHE_DIR", str(cache))
    vendors = yaml.load((CATALOG_DIR / "vendors.yaml").read_bytes(), Loader=yaml.SafeLoader)
    ref = Catalog(want, vendors, str(CATALOG_DIR))
    load_catalog.cache_clear()
    try:
        got = load_catalog(CATALOG_DIR)  # read back from the cache
        assert (got.version, got.names, got.domains, got.addresses, got.vendors) == (
            ref.version, ref.names, ref.domains, ref.addresses, ref.vendors
        )  # fmt: skip
    finally:
        load_catalog.cache_clear()
