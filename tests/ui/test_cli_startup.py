"""A CLI that feels fast and fits the terminal (issue 18, point 6).

Start-up time itself is measured in bench/startup.py, not asserted here (the machine is shared);
these tests hold what makes it fast and readable: `--help`, a group's help and an error exit do not
import the heavy modules (checked in a fresh process's ``sys.modules``), the command table names
every command of its module with its docstring's first sentence, ``--db`` is taken before the
command too, help shows no Python type names, and the tables of the replayed lab fit COLUMNS=80
while still naming every device of the lab's ground truth.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.paths import LAB, ROOT
from tests.support.run import assessed_lab

# What only a command that works on captures, the store or findings needs (rich's tables are not
# here: Typer draws its help with them).
HEAVY = (
    "chdb",
    "pandas",
    "pyarrow",
    "scapy",
    "pyshark",
    "lxml",
    "cryptography",
    "policies.engine",
    "appliance.store.backends",
    "appliance.ingest.pipeline",
    "appliance.findings.confirm",
    "appliance.report",
)
# Type names as Typer and click print them: <str>, <bool>, <list[str]>, <float range>, TEXT, INTEGER...
TYPE_NAME = re.compile(
    r"<(?:str|bool|int|float|path|datetime|list\[[^>]*\])[^>]*>|\b(?:TEXT|INTEGER|FLOAT|BOOLEAN)\b"
)
TABLES = (
    "devices",
    "flows",
    "destinations",
    "findings",
    "observations",
    "measures",
    "periods",
    "uploads",
    "captures",
)
TRUTH = yaml.safe_load((LAB / "lab.truth.yaml").read_text())


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TAPAUDIT_DB", "COLUMNS")}
    return {**env, **extra}


def _modules_after(args: list[str]) -> tuple[int, set[str], str]:
    """Run the CLI's ``main(args)`` in a fresh interpreter; its exit code, the modules it imported
    and what it printed."""
    code = (
        "import json, sys\nfrom appliance.cli.main import main\nrc = main(sys.argv[1:])\n"
        "sys.stdout.flush()\nsys.stderr.write('\\nMODULES ' + json.dumps(sorted(sys.modules)))\n"
        "sys.exit(rc)\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        check=False,
    )
    head, _, mods = p.stderr.rpartition("\nMODULES ")
    return p.returncode, set(json.loads(mods)), p.stdout + head


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules for h in HEAVY if m == h or m.startswith(h + "."))


@pytest.mark.parametrize(
    ("args", "rc"),
    [(["--help"], 0), (["findings", "--help"], 0), (["replay", "/nonexistent.pcap"], 1), (["nosuch"], 2)],
)
def test_help_and_error_exits_import_no_heavy_module(args: list[str], rc: int) -> None:
    code, modules, printed = _modules_after(args)
    assert code == rc, printed
    assert _heavy(modules) == [], printed
    if rc == 1:  # the error is still one line naming the path
        assert printed.strip().splitlines() == ["tapaudit: error: /nonexistent.pcap: no such file"]


def test_a_quiet_replay_imports_only_what_it_uses(tmp_path: Path) -> None:
    """A capture's replay with ``-q`` stores the lab (every device of its ground truth) without
    importing the Zeek reader, the progress bar, the device table and the read API it is filled
    from, netaddr, pydantic (Typer's own reading of the options: ``appliance.cli.coerce``), or rich
    (it prints nothing) (issue 20, point 3: a replay's fixed cost)."""
    db = tmp_path / "db"
    code, modules, printed = _modules_after(["--db", str(db), "replay", "-q", str(LAB / "lab.pcapng")])
    assert code == 0, printed
    unused = ("parsers.zeek", "appliance.ingest.zeek_replay", "rich.progress", "appliance.cli.browse",
              "netaddr", "geoip2fast", "ssl", "appliance.store.queries", "appliance.findings",
              "appliance.live", "pydantic", "rich")  # fmt: skip
    assert sorted(m for m in modules for u in unused if m == u or m.startswith(u + ".")) == [], printed
    assert "appliance.lookups.geoip_table" in modules and "appliance.store.backends" in modules
    # with --json the devices are read back, through the read API but without the packs' verdicts;
    # times print in UTC here (no lab file, no TAPAUDIT_TZ), so neither zone files nor TOML are read,
    # and no bench file is given, so no YAML is parsed (the catalogue comes from its cache)
    code, modules, printed = _modules_after(["--db", str(tmp_path / "db2"), "replay", "-q", "--json",
                                             str(LAB / "lab.pcapng")])  # fmt: skip
    assert code == 0 and "appliance.store.queries" in modules, printed
    assert sorted(m for m in modules if m.split(".")[0] in ("zoneinfo", "tomllib", "yaml")
                  or m.startswith("policies.verdicts")) == [], printed  # fmt: skip
    _, _, listed = _modules_after(["--db", str(db), "devices", "--json"])
    assert set(TRUTH["devices"]) <= {d["mac"] for d in json.loads(listed)}


def test_the_command_table_is_every_module_command_with_its_docstring() -> None:
    import importlib

    from appliance.cli.lazy import COMMANDS

    seen: dict[str, str] = {}
    for module in sorted({e.module for e in COMMANDS.values()}):
        for name, fn in importlib.import_module(f"appliance.cli.{module}").COMMANDS.items():
            assert name not in seen, f"{name} is in {seen.get(name)} and {module}"
            seen[name] = module
            doc = " ".join((inspect.getdoc(fn) or "").split())
            assert doc.startswith(COMMANDS[name].summary), name
    assert seen == {name: e.module for name, e in COMMANDS.items()}


def test_every_help_is_free_of_python_type_names() -> None:
    from appliance.cli.lazy import COMMANDS

    for args in (["--help"], *([name, "--help"] for name in COMMANDS)):
        p = subprocess.run(
            [sys.executable, "-m", "appliance.cli", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=_env(COLUMNS="200"),
            timeout=120,
            check=False,
        )
        assert p.returncode == 0 and "Usage:" in p.stdout, p.stderr
        assert TYPE_NAME.findall(p.stdout) == [], (args, p.stdout)
    assert (
        "--db"
        in subprocess.run(
            [sys.executable, "-m", "appliance.cli", "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=_env(),
            check=False,
        ).stdout
    )


def test_db_before_the_command_is_the_data_folder(tmp_path: Path) -> None:
    """`tapaudit --db X replay ...` stores in X (not ./data of the working folder), and
    `tapaudit --db X devices` reads what `tapaudit devices --db X` reads."""
    db = tmp_path / "store"
    capture = LAB / "lab.pcapng"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "appliance.cli", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=_env(),
            timeout=600,
            check=False,
        )

    p = run("--db", str(db), "replay", "--quiet", "--bench", str(LAB / "lab.bench.yaml"), str(capture))
    assert p.returncode == 0, p.stderr
    assert db.is_dir() and not (tmp_path / "data").exists()
    before = run("--db", str(db), "devices", "--json")
    after = run("devices", "--db", str(db), "--json")
    assert before.returncode == 0 and before.stdout == after.stdout, before.stderr
    macs = {d["mac"] for d in json.loads(before.stdout)}
    assert set(TRUTH["devices"]) <= macs


@pytest.fixture(scope="module")
def lab_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-80") / "db"
    assessed_lab(str(path))
    return path


@pytest.mark.parametrize("command", TABLES)
def test_tables_fit_80_columns(lab_db: Path, command: str) -> None:
    """At COLUMNS=80 no line is wider than 80; the first columns (the device, the finding's
    severity...) are kept and a caption names the columns left out; at 200 columns none is."""
    p = subprocess.run(
        [sys.executable, "-m", "appliance.cli", command, "--db", str(lab_db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(COLUMNS="80"),
        timeout=300,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, p.stdout
    if command == "devices":  # the oracle: every device of the lab's ground truth is listed
        for mac in TRUTH["devices"]:
            assert mac in p.stdout
    wide = subprocess.run(
        [sys.executable, "-m", "appliance.cli", command, "--db", str(lab_db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(COLUMNS="400"),
        timeout=300,
        check=False,
    )
    assert "left out to fit" not in wide.stdout
    if max(len(line) for line in wide.stdout.splitlines()) > 80:  # something had to give
        assert "left out to fit 80 columns" in " ".join(p.stdout.split())


class _Recorder:
    """A progress that keeps what the replay told it (the CLI's bar draws the same calls)."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.updates: list[tuple[int, int]] = []

    def start(self, label: str, total_bytes: int | None) -> None:
        self.total = total_bytes

    def update(self, done_bytes: int, packets: int) -> None:
        self.updates.append((done_bytes, packets))


def test_replay_progress_moves_while_it_reads(tmp_path: Path) -> None:
    """The lab (4.3 MB, 8,150 packets: fewer than a drain's worth) is read in batches of about
    256 KiB (``parsers.capture.BATCH_BYTES``): the bar is told after each, with bytes and packets
    growing, before the file's end; it used to hear only at the end."""
    from appliance.ingest.replay import replay
    from appliance.store.backends import open_store
    from parsers.capture import BATCH_BYTES
    from tests.support.run import lab_options

    capture = LAB / "lab.pcapng"
    size = capture.stat().st_size
    rec = _Recorder()
    store = open_store(str(tmp_path / "db"))
    try:
        store.ensure_schema()
        res = replay(store, str(capture), lab_options(), rec)
    finally:
        store.close()
    assert rec.total == size
    reading = [u for u in rec.updates if u[0] < size]
    assert len(reading) >= size // BATCH_BYTES - 1 >= 3
    assert reading == sorted(reading) and len({u[0] for u in reading}) == len(reading)
    assert all(0 < packets < res.packets for _, packets in reading)
    assert rec.updates[-1] == (size, res.packets)


@pytest.mark.parametrize(("given", "used"), [(None, 1), ("2", 2)])
def test_openblas_starts_one_thread_unless_told(given: str | None, used: int) -> None:
    """numpy's OpenBLAS, loaded with chDB, runs one thread (its spinning threads cost 0.04 CPU-s of
    each command, issue 20, point 3), as OpenBLAS itself reports; a number the user gave is kept."""
    code = (
        "import ctypes, glob, os, sys\nfrom appliance.cli.main import main\nrc = main(['--version'])\n"
        "import numpy\nlibs = os.path.dirname(numpy.__file__) + '.libs'\n"
        "(lib,) = glob.glob(os.path.join(libs, '*openblas*'))\n"
        "print(ctypes.CDLL(lib).scipy_openblas_get_num_threads64_())\nsys.exit(rc)\n"
    )
    env = {k: v for k, v in _env().items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    p = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env, check=False
    )
    assert p.returncode == 0, p.stderr
    assert int(p.stdout.splitlines()[-1]) == used
