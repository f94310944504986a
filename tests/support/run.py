"""Running tapaudit as the tests need it: the CLI in a process of its own, the lab replayed and assessed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.paths import LAB, ROOT


def cli(*args: str, db: Path | None = None, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``tapaudit`` as a user does, in a process of its own, its output piped: as wide as
    ``columns`` says, else as a pipe is (no COLUMNS). pytest's readline exports COLUMNS=80 and
    LINES, to child processes behind ``os.environ``'s back and into ``os.environ`` itself in
    pytest-xdist's workers, which would narrow the tables (they follow COLUMNS) as no user asked."""
    cmd = [sys.executable, "-m", "appliance.cli", *args]
    if db is not None:
        cmd += ["--db", str(db)]
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
                          env=env)  # fmt: skip


def lab_options(raw: bool = False, phases: bool | Path = True) -> Any:
    """Replay options for the lab capture: its bench file (LAN, personas) and its phase marks (the
    lab's phases file, another one, or none)."""
    from appliance.ingest.replay import ReplayOptions
    from appliance.lab.bench import load_bench
    from appliance.lab.phases import load_phases

    bench = load_bench(str(LAB / "lab.bench.yaml"))
    opts = ReplayOptions(lan_prefixes=bench.lan_prefixes, bench=bench, raw_evidence=raw, force=True)
    if phases:
        opts.phases = load_phases(str(LAB / "lab.phases.csv" if phases is True else phases))
    return opts


def assessed_lab(path: str, phases: bool | Path = True) -> str:
    """Replay the lab (``lab_options``, with the lab's phases file, another or none) into the data
    folder ``path`` and assess it against its declarations, as `make demo` does; the folder is
    closed again (chDB opens one at a time). Returns the capture id."""
    from appliance.findings.assess import assess
    from appliance.ingest.replay import replay
    from appliance.store.backends import open_store
    from policies.declaration import load_declarations

    store = open_store(path)
    try:
        store.ensure_schema()
        cid = replay(store, str(LAB / "lab.pcapng"), lab_options(phases=phases)).capture_id
        assess(store, cid, declarations=load_declarations([str(LAB / "declarations")]))
    finally:
        store.close()
    return cid
