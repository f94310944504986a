"""Test harness: tshark 4.0 as the dissection oracle, its fields per frame."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

F = TypeVar("F", bound=Callable[..., Any])
AGG = "\x1e"  # tshark's aggregator between repeated values: a byte no field here contains


def needs_tshark(fn: F) -> F:
    """Marked ``tshark``: fails in CI and is skipped elsewhere where Debian's tshark is missing (conftest)."""
    return pytest.mark.tshark(fn)


def tshark_fields(
    path: Path, dfilter: str, fields: list[str], options: tuple[str, ...] = ()
) -> dict[int, dict[str, list[str]]]:
    """frame number -> field -> every value, for the frames matching ``dfilter``."""
    cmd = ["tshark", "-r", str(path), *options, "-Y", dfilter, "-T", "fields", "-E", "occurrence=a"]
    cmd += ["-E", f"aggregator={AGG}", "-e", "frame.number"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in filter(None, out.split("\n")):  # not splitlines(): it also splits at the aggregator
        cols = line.split("\t")
        rows[int(cols[0])] = {f: (v.split(AGG) if v else []) for f, v in zip(fields, cols[1:], strict=True)}
    return rows
