"""Packet sources. A replay of capture files and (later) a live interface share one shape.

A source yields batches of ``(ts_ns, linktype, wire_length, frame)`` and keeps ``ReadStats``
that the pipeline stores with the capture.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from parsers.capture import CaptureError, Packet, ReadStats, read_batches, sniff_format
from parsers.capture_inputs import expand_inputs


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return h.hexdigest()


@dataclass
class PcapSource:
    """One capture: a file, or the rotated files of a directory or glob, in time order."""

    path: str
    files: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    stats: ReadStats = field(default_factory=ReadStats)
    formats: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.files = expand_inputs(self.path)
        for f in self.files:  # fail before anything is written, not halfway through
            sniff_format(f)
        self.hashes = [sha256_file(f) for f in self.files]

    @property
    def capture_id(self) -> str:
        """The file's sha256, or the sha256 of the files' sha256s for several files."""
        if len(self.hashes) == 1:
            return self.hashes[0]
        return hashlib.sha256("\n".join(self.hashes).encode()).hexdigest()

    @property
    def size(self) -> int:
        return sum(os.path.getsize(f) for f in self.files)

    def batches(self) -> Iterator[list[Packet]]:
        """Packets of all files in order, in the reader's batches (the hot path)."""
        for f in self.files:
            yield from read_batches(f, self.stats)
            self.formats.add(self.stats.format)
