"""A key log that grows while a live capture runs (issue 16): whole lines only, read as they come.

Oracle: the lines this test writes, with their randoms and secrets, and the KeyLog that reads the
finished file whole; and the CLI's one-line refusal of a key log that is not there.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from appliance.ingest.keyfiles import KeyFollower, load_keys
from parsers.decrypt.keys import KeyLog
from tests.support.run import cli


def _line(i: int) -> str:
    return f"CLIENT_RANDOM {i:064x} {i + 1:096x}\n"


def test_follower_takes_whole_lines_as_the_file_grows(tmp_path: Path) -> None:
    path = tmp_path / "live.keylog"
    path.write_text(_line(1))
    keys = KeyLog()
    follow = KeyFollower(keys, [str(path)])
    assert follow.poll() == 1 and len(keys) == 1
    with open(path, "a") as fh:  # a line still being written waits for its newline
        fh.write(_line(2) + _line(3)[:40])
    assert follow.poll() == 1 and len(keys) == 2
    assert keys.lookup((3).to_bytes(32, "big")) is None
    with open(path, "a") as fh:
        fh.write(_line(3)[40:] + "garbage\n")
    assert follow.poll() == 1 and follow.poll() == 0
    s = keys.lookup((3).to_bytes(32, "big"))
    assert s is not None and s.master_secret == (4).to_bytes(48, "big")
    assert keys.bad_lines == 1
    [src] = follow.sources()
    whole = load_keys([str(path)])
    assert (src.sha256, src.lines, src.bad_lines) == (whole.sources[0].sha256, 3, 1)
    path.write_text(_line(9))  # replaced by a shorter file: read from its start
    assert follow.poll() == 1 and keys.lookup((9).to_bytes(32, "big")) is not None


def test_follower_waits_for_a_file_that_goes_away(tmp_path: Path) -> None:
    path = tmp_path / "k.keylog"
    path.write_text(_line(1))
    keys = KeyLog()
    follow = KeyFollower(keys, [str(path)])
    path.unlink()
    assert follow.poll() == 0 and follow.sources() == []
    path.write_text(_line(1) + _line(2))
    assert follow.poll() == 2


def test_capture_refuses_a_missing_key_log_in_one_line(tmp_path: Path) -> None:
    p: subprocess.CompletedProcess[str] = cli(
        "capture", "-i", "lo", "--keylog", str(tmp_path / "none.keylog"), "--ring", str(tmp_path / "r"),
        db=tmp_path / "db",
    )  # fmt: skip
    assert p.returncode == 1 and "Traceback" not in p.stderr
    [line] = p.stderr.strip().splitlines()
    assert "none.keylog" in line and "key log" in line
    assert not (tmp_path / "r").exists()  # refused before the ring or the store was touched
