"""The systemd unit of the live tap mode (deploy/tapaudit-capture.service): systemd accepts it, it
grants only CAP_NET_RAW and CAP_NET_ADMIN, and every option it passes exists in `tapaudit capture`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.run import cli

UNIT = ROOT / "deploy" / "tapaudit-capture.service"


def _lines(key: str) -> list[str]:
    text = UNIT.read_text().replace("\\\n", " ")
    return [line.split("=", 1)[1].strip() for line in text.splitlines() if line.startswith(f"{key}=")]


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze is not installed")
    tapaudit = Path(sys.executable).with_name("tapaudit")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/tapaudit/bin/tapaudit", str(tapaudit)))
    p = subprocess.run([exe, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and not p.stderr.strip(), p.stderr


def test_only_the_two_capabilities_and_no_root() -> None:
    assert _lines("User") == ["tapaudit"]
    for key in ("AmbientCapabilities", "CapabilityBoundingSet"):
        assert sorted(_lines(key)[0].split()) == ["CAP_NET_ADMIN", "CAP_NET_RAW"]
    assert _lines("KillSignal") == ["SIGTERM"]


def test_every_option_of_the_unit_exists() -> None:
    start = _lines("ExecStart")[0]
    used = set(re.findall(r"(?<!\S)(--?[a-z][a-z-]*)", start))
    assert {"-i", "--db", "--ring", "--spool", "--control"} <= used
    helptext = cli("capture", "--help").stdout
    missing = [o for o in used if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", helptext)]
    assert not missing, missing
