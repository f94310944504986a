"""Read Zeek's conn.log baselines (full or zeek-cut) and the trace each test replays."""

from __future__ import annotations

import re
from pathlib import Path

TRACE_RE = re.compile(r"-\w*r \$TRACES/(\S+)")


def trace_of(test_dir: Path) -> str | None:
    for src in sorted(test_dir.glob("_test_source_*")):
        m = TRACE_RE.search(src.read_text(errors="replace"))
        if m:
            return m.group(1)
    return None


def read_conn(path: Path) -> list[dict[str, str]]:
    fields: list[str] = []
    rows = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line.startswith("#"):
            continue
        elif not fields and re.match(r"^[0-9a-f:.]+\t\d+\t", line):
            fields = ["id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"]  # zeek-cut, no header
            rows.append(dict(zip(fields, line.split("\t"), strict=False)))
        elif not fields:
            fields = line.split("\t")  # zeek-cut -m: a plain header line
        else:
            rows.append(dict(zip(fields, line.split("\t"), strict=False)))
    return rows
