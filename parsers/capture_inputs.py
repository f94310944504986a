"""Which capture files one input names: a file, a directory or a glob of rotated files."""

from __future__ import annotations

import glob
import os

from parsers.capture import CaptureError, read_pcap

# compressed ones: parsers.capture_file.CODECS
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz", ".xz", ".bz2")


def expand_inputs(path: str) -> list[str]:
    """Files behind one PATH argument: a file, a directory or a glob of rotated files.

    The files of a directory or glob are ordered by their first packet's time, so
    ring-buffer rotations (``cap_00001_2026...pcap``) replay in capture order.
    """
    if os.path.isdir(path):
        names = sorted(os.listdir(path))
        files = [
            os.path.join(path, n)
            for n in names
            if n.lower().endswith(CAPTURE_SUFFIXES) and os.path.isfile(os.path.join(path, n))
        ]
        if not files:
            raise CaptureError(
                f"{path}: directory holds no .pcap/.pcapng/.cap files (plain, .gz, .xz or .bz2)"
            )
    elif os.path.lexists(path):  # a name that exists is that file, brackets or stars in it or not
        return [path]
    elif any(c in path for c in "*?["):
        files = sorted(f for f in glob.glob(path) if os.path.isfile(f))
        if not files:
            raise CaptureError(f"{path}: pattern matches no file")
    else:
        if not os.path.exists(path):
            raise CaptureError(f"{path}: no such file")
        return [path]
    keyed = [(first_timestamp(f), f) for f in files]
    return [f for _, f in sorted(keyed)]


def first_timestamp(path: str) -> int:
    """Timestamp of the first packet (ns), or 0 for an empty or unreadable file."""
    try:
        for ts, _lt, _orig, _data in read_pcap(path):
            return ts
    except CaptureError:
        return 0
    return 0
