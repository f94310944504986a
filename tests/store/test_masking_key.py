"""The masking key outside the data folder: made 0600 on first use, its id (never the key) in the
store, and a store without its key refuses to add captures and to reveal, in one line, while
masked reading goes on (issue 17)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from appliance import masking_key
from appliance.store.backends import open_store
from tests.support.paths import ROOT
from tests.support.run import cli

SMALL = str(ROOT / "pcaps" / "real" / "iot-sentinel-aria-setup-a-1.pcap")


def _one_line_error(p: object) -> str:
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)  # type: ignore[attr-defined]
    lines = p.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr  # type: ignore[attr-defined]
    return str(lines[0])


def test_first_use_makes_a_private_key_file_and_the_store_keeps_only_its_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "config" / "tapaudit" / "masking.key"
    monkeypatch.setenv("TAPAUDIT_MASKING_KEY_FILE", str(key_file))
    p = cli("replay", "-q", SMALL, db=tmp_path / "db")
    assert p.returncode == 0, p.stderr
    key = bytes.fromhex(key_file.read_text())
    assert len(key) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    store = open_store(str(tmp_path / "db"))
    try:
        meta = {r["key"]: r["value"] for r in store.query("SELECT key, value FROM {db}.meta")}
    finally:
        store.close()
    assert meta["masking_key_id"] == masking_key.key_id(key)
    assert "hash_key" not in meta and key.hex() not in meta.values()


def test_without_the_default_location_the_key_goes_to_the_xdg_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAPAUDIT_MASKING_KEY_FILE")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert masking_key.key_path() == tmp_path / "xdg" / "tapaudit" / "masking.key"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert masking_key.key_path() == tmp_path / "home" / ".config" / "tapaudit" / "masking.key"


def test_a_store_without_its_key_refuses_to_add_and_to_reveal_but_reads_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "db"
    monkeypatch.setenv("TAPAUDIT_MASKING_KEY_FILE", str(tmp_path / "a.key"))
    assert cli("observations", "--reveal", db=db).returncode == 0  # nothing hashed yet, no key needed
    assert not (tmp_path / "a.key").exists()
    assert cli("replay", "-q", "--raw-evidence", SMALL, db=db).returncode == 0
    want = masking_key.key_id(bytes.fromhex((tmp_path / "a.key").read_text()))
    assert cli("observations", "--reveal", db=db).returncode == 0  # with its key: allowed

    # no key at all: nothing is made, both refused with the key id needed; masked reading works
    monkeypatch.setenv("TAPAUDIT_MASKING_KEY_FILE", str(tmp_path / "missing.key"))
    line = _one_line_error(cli("replay", "-q", "--force", SMALL, db=db))
    assert f"needs masking key id {want}" in line and "cannot add captures" in line
    assert not (tmp_path / "missing.key").exists()
    line = _one_line_error(cli("observations", "--reveal", db=db))
    assert f"needs masking key id {want}" in line and "cannot reveal values" in line
    ring = tmp_path / "ring"  # a live capture is refused before the interface opens: no ring file
    p = cli("capture", "-i", "lo", "--ring", str(ring), "--spool", str(tmp_path / "spool"), db=db)
    assert f"needs masking key id {want}" in _one_line_error(p) and list(ring.iterdir()) == []
    p = cli("observations", "--json", db=db)
    assert p.returncode == 0 and p.stdout.strip().startswith("["), p.stderr
    assert cli("captures", db=db).returncode == 0

    # another key, by the environment: refused, naming both ids
    other = bytes(range(32))
    monkeypatch.setenv("TAPAUDIT_MASKING_KEY", other.hex())
    line = _one_line_error(cli("replay", "-q", "--force", SMALL, db=db))
    assert f"needs masking key id {want}" in line and masking_key.key_id(other) in line
    _one_line_error(cli("observations", "--reveal", db=db))
    store = open_store(str(db))
    try:
        assert store.query("SELECT count() AS n FROM {db}.captures")[0]["n"] == 1  # nothing was added
    finally:
        store.close()


def test_a_key_file_open_to_others_or_inside_the_data_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "masking.key"
    key_file.write_text("cd" * 32 + "\n")
    key_file.chmod(0o640)
    monkeypatch.setenv("TAPAUDIT_MASKING_KEY_FILE", str(key_file))
    line = _one_line_error(cli("replay", "-q", SMALL, db=tmp_path / "db"))
    assert "open to group or others (mode 0640)" in line and f"chmod 600 {key_file}" in line

    inside = tmp_path / "db2" / "masking.key"
    monkeypatch.setenv("TAPAUDIT_MASKING_KEY_FILE", str(inside))
    line = _one_line_error(cli("replay", "-q", SMALL, db=tmp_path / "db2"))
    assert "inside the data folder" in line and not inside.exists()

    key_file.chmod(0o600)
    key_file.write_text("not hex\n")
    monkeypatch.setenv("TAPAUDIT_MASKING_KEY_FILE", str(key_file))
    assert "is not hex" in _one_line_error(cli("replay", "-q", SMALL, db=tmp_path / "db3"))


def test_an_old_store_with_another_key_than_the_key_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store from before issue 17 kept its key in meta; when the key file holds another key, the
    store's key cannot move there: one line says to point the key file elsewhere, and that works."""
    from appliance.store.schema import META

    db = tmp_path / "db"
    store = open_store(str(db))
    try:
        store.ensure_schema()
        store.insert("meta", [META.row(key="hash_key", value="ef" * 32)])
    finally:
        store.close()
    (tmp_path / "other.key").write_text("12" * 32)
    (tmp_path / "other.key").chmod(0o600)
    monkeypatch.setenv("TAPAUDIT_MASKING_KEY_FILE", str(tmp_path / "other.key"))
    line = _one_line_error(cli("captures", db=db))
    assert masking_key.key_id(bytes.fromhex("ef" * 32)) in line and "to a new path" in line
    monkeypatch.setenv("TAPAUDIT_MASKING_KEY_FILE", str(tmp_path / "moved.key"))
    assert cli("captures", db=db).returncode == 0
    assert (tmp_path / "moved.key").read_text().strip() == "ef" * 32
