"""Which Zeek logs one input names: a file, a folder (one sub-folder per sensor) or a glob.

Logs are recognised by their content (``logfile.sniff``), never by their names, so ``conn.log``,
``conn.2024-05-01-10-00-00.log.gz``, Stratosphere's ``conn.log.labeled`` and a JSON ``conn.json``
are all read; files that are not Zeek logs (READMEs, pcaps) are left out of a folder. The logs of a
stream are ordered with rotated archives first (by the time in their names, which is when the
logrotate period began) and the current file last, so a rotated set reads in time order.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass

from parsers.zeek.logfile import LogHeader, ZeekLogError, sniff

# conn.2024-05-01-10-00-00.log (Zeek's default rotation format, Log::default_rotation_date_format)
# and conn.2024-05-01-10:00:00-11:00:00.log.gz (zeekctl's archive naming)
ROTATED = re.compile(r"\.(\d{4}-\d{2}-\d{2}[-_]\d{2}[-:]\d{2}[-:]\d{2})")
MAX_DEPTH = 3  # folder / sensor / date folder (zeekctl's logs/2024-05-01/)


@dataclass(frozen=True)
class LogFile:
    path: str
    header: LogHeader
    sensor: str  # the sub-folder of the input it lies in ('' at its top)

    @property
    def stream(self) -> str:
        return self.header.path


def _walk(root: str) -> list[str]:
    out = []
    base_depth = root.rstrip(os.sep).count(os.sep)
    for d, subdirs, names in os.walk(root):
        if d.count(os.sep) - base_depth >= MAX_DEPTH:
            subdirs[:] = []
        subdirs.sort()
        out += [os.path.join(d, n) for n in sorted(names) if os.path.isfile(os.path.join(d, n))]
    return out


def _order(f: LogFile) -> tuple[str, str, int, str, str]:
    m = ROTATED.search(os.path.basename(f.path))
    return (f.sensor, f.stream, 1 if m is None else 0, m.group(1) if m else "", f.path)


def find_logs(path: str) -> list[LogFile]:
    """The Zeek logs behind one PATH argument; ZeekLogError when it names none."""
    if os.path.isdir(path):
        root, candidates = path, _walk(path)
    elif os.path.lexists(path):
        root, candidates = os.path.dirname(path), [path]
    elif any(c in path for c in "*?["):
        root, candidates = os.path.dirname(path.split("*")[0]), sorted(glob.glob(path))
    else:
        raise ZeekLogError(f"{path}: no such file")
    logs = []
    for c in candidates:
        hdr = sniff(c) if os.path.isfile(c) else None
        if hdr is not None:
            rel = os.path.relpath(os.path.dirname(c), root) if root else os.path.dirname(c)
            logs.append(LogFile(c, hdr, "" if rel in (".", "") else rel))
    if not logs:
        raise ZeekLogError(f"{path}: no Zeek log in it (TSV with #fields, JSON lines, or zeek-cut -m output)")
    return sorted(logs, key=_order)


def is_zeek_input(path: str) -> bool:
    """Whether PATH names Zeek logs rather than captures: a file that reads as a log, or a folder
    or glob whose files include logs and no capture (a capture's magic decides that)."""
    try:
        logs = find_logs(path)
    except ZeekLogError:
        return False
    if os.path.isdir(path) or not os.path.lexists(path):
        from parsers.capture import CaptureError, sniff_format

        files = _walk(path) if os.path.isdir(path) else glob.glob(path)
        for f in files:
            try:
                sniff_format(f)
            except (CaptureError, OSError):
                continue
            return False  # a capture is there: the capture reader has the folder
    return bool(logs)
