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

BROKEN = "a: 1\nb: [2\nc: 3\n"  # the flow sequence is never closed: libyaml names line 3


@pytest.mark.parametrize(
    ("name", "load", "error"),
    [
        ("bench.yaml", load_bench, BenchError),
        ("phases.yaml", load_phases, PhasesError),
        ("decl.yaml", load_declaration, DeclarationError),
        ("pack.yaml", load_pack, PackError),
        ("necessity.yaml", load_necessity, NecessityError),
    ],
)
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
