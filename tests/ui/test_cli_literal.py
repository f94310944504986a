"""The CLI's tables show traffic text as it was sent (issue 17): a device's DHCP host name or HTTP
Host header carrying console markup (``[click](...)``: a rich tag to the table library) or
Markdown and HTML prints literally, never read as styling or a terminal link.

Input: pcaps/synth/hostile.py's child watch, whose ground truth says which payload went where.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import ROOT
from tests.support.run import cli


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    from pcaps.synth import hostile

    root = tmp_path_factory.mktemp("hostile-cli")
    truth = hostile.write(root / "h.pcapng")
    db = root / "db"
    assert cli("replay", str(root / "h.pcapng"), db=db).returncode == 0
    assert cli("assess", db=db).returncode == 0
    return db, truth


def _table(db: Path, *args: str) -> str:
    """A command's table as a person's wide terminal shows it (no fold inside the values)."""
    env = {**os.environ, "COLUMNS": "400"}
    cmd = [sys.executable, "-m", "appliance.cli", *args, "--db", str(db)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_devices_show_the_dhcp_name_as_sent(hostile_db: tuple[Path, dict[str, Any]]) -> None:
    db, truth = hostile_db
    out = _table(db, "devices")
    assert truth["dhcp_name"] in out  # "**b**[click](http://evil.test/x)<img src=x>"
    assert "\x1b]8;" not in out  # no terminal hyperlink (OSC 8)


@pytest.mark.parametrize("command", ["destinations", "findings", "observations"])
def test_host_header_shows_as_sent(hostile_db: tuple[Path, dict[str, Any]], command: str) -> None:
    db, truth = hostile_db
    out = _table(db, command)
    # "[click](//evil.test/x)![i](//evil.test/i.png)"; destinations folds its column (at 34
    # characters in 220 columns, beside the device with its vendor): its first line is compared
    shown = truth["host_header"][:30] if command == "destinations" else truth["host_header"]
    assert shown in out
    assert "\x1b]8;" not in out
