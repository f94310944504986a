"""Shared fixtures: paths to the bundled and shared captures, stores, a real ClickHouse server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "pcaps"
LAB = ROOT / "pcaps" / "lab"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def shared_path(*parts: str) -> Path:
    """A file under ../shared/pcaps; missing is a failure in CI and a skip elsewhere."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{p} is missing: CI must run with ../shared beside the clone")
        pytest.skip(f"{p} not present")
    return p


def cli(*args: str, db: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``tapaudit`` as a user does, in a process of its own."""
    cmd = [sys.executable, "-m", "appliance.cli", *args]
    if db is not None:
        cmd += ["--db", str(db)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def lab_options(raw: bool = False, phases: bool = True) -> Any:
    """Replay options for the lab capture: its bench file (LAN, personas) and its phase marks."""
    from appliance.bench import load_bench
    from appliance.phases import load_phases
    from appliance.replay import ReplayOptions

    bench = load_bench(str(LAB / "lab.bench.yaml"))
    opts = ReplayOptions(lan_prefixes=bench.lan_prefixes, bench=bench, raw_evidence=raw, force=True)
    if phases:
        opts.phases = load_phases(str(LAB / "lab.phases.csv"))
    return opts


def assessed_lab(path: str) -> str:
    """Replay the lab (``lab_options``) into the data folder ``path`` and assess it against its
    declarations, as `make demo` does; the folder is closed again (chDB opens one at a time).
    Returns the capture id."""
    from appliance.assess import assess
    from appliance.replay import replay
    from appliance.storage import open_store
    from policies.declaration import load_declarations

    store = open_store(path)
    try:
        store.ensure_schema()
        cid = replay(store, str(LAB / "lab.pcapng"), lab_options()).capture_id
        assess(store, cid, declarations=load_declarations([str(LAB / "declarations")]))
    finally:
        store.close()
    return cid


@pytest.fixture
def store(tmp_path: Path) -> Iterator[object]:
    from appliance.storage import open_store

    s = open_store(str(tmp_path / "db"))
    s.ensure_schema()
    yield s
    s.close()


@pytest.fixture(scope="session")
def ch_server() -> Iterator[object]:
    from chserver import binary, running_server

    if binary() is None:
        if os.environ.get("CI"):
            pytest.fail("clickhouse-server is not installed; make test installs it")
        pytest.skip("clickhouse-server not installed")
    with running_server() as srv:
        yield srv
