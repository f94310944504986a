"""Where an ingestion run's packets come from: one ``Source`` shape for every kind.

A source names its capture (``capture_id``) and yields batches of ``(ts_ns, linktype,
wire_length, frame)``, the tuples the flow meter's hot loop takes. ``PcapSource`` reads capture
files (a file, or the rotated files of a directory or glob) and keeps the ``ReadStats`` the
replay stores with the capture; ``appliance.live.source.LiveSource`` reads an interface, a batch
per read and ``[]`` while the wire is quiet, so its session can flush between packets. Other
sources (Zeek logs, decrypted streams) implement the same three members.

A capture is named by its files' sha256. A replay reads it while the CLI's thread (``Prehash``)
still hashes it (``deferred``), its rows held until the name is known, and stops with nothing
written when the name shows a capture stored already; without that thread it is named first.
The reader then checks that it reads the file it hashed, not by hashing it a second time (a
second full pass over a week's capture, issue 20) but by the file's identity: device, inode,
size, modification and change times, taken when the hash began and ended and again when the
reader is done, from the one descriptor the packets come from. A file swapped for another (a new
inode) or written to (any write moves its change time, which no user can set back) stops the
replay with ``CaptureChanged`` before anything is committed (issue 17, "read once, verify what was
read"). ``hashed_reads`` hashes what is read instead, as ``tapaudit evidence`` does.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from parsers.capture import CaptureError, Limits, Packet, ReadStats, WalkerFactory, read_batches, sniff_format
from parsers.capture_file import HashedFile
from parsers.capture_inputs import expand_inputs
from parsers.decrypt.keys import KeyLog


def sha256_file(path: str) -> str:
    """A regular file's sha256 (special files refused: a FIFO would never end)."""
    return hash_and_identity(path)[0]


def hash_and_identity(path: str, chunk: int | None = None) -> tuple[str, str]:
    """A regular file's sha256 and its identity (``HashedFile.identity``) while it was hashed; a file
    written to meanwhile is refused (``CaptureChanged``). ``chunk``: bytes per read."""
    with HashedFile(path) as fh:
        before = fh.identity()
        digest = fh.finish(chunk)
        after = fh.identity()
    if before != after:
        raise CaptureChanged(path, "", digest)
    return digest, after


class Prehash:
    """Capture files hashed in a thread from the moment they are named, while the command opens the
    store, in the order given (issue 20, point 3: a 663 MB capture's sha256 takes 0.45 s, and
    starting the CLI and opening embedded ClickHouse 0.3 s, one after the other until now).

    ``take`` gives a file's ``hash_and_identity``, waiting for it, and raises what hashing raised;
    a file not named here is hashed then. The sha256 itself runs outside the GIL (hashlib releases
    it for large updates, reads are system calls), so on two cores the hash and the store's opening
    overlap; big reads keep the thread from waiting on the GIL between them. The thread is a daemon:
    a command that fails before it needs the hash exits without waiting for a long file.
    """

    CHUNK = 32 << 20  # 22 ms of sha256 per GIL hand-over, against CPython's 5 ms switch interval

    def __init__(self, files: list[str]) -> None:
        self._files = list(dict.fromkeys(files))
        self._got: dict[str, tuple[str, str] | BaseException] = {}
        self._ready = threading.Condition()
        threading.Thread(target=self._run, name="capture sha256", daemon=True).start()

    def _run(self) -> None:
        for f in self._files:
            got: tuple[str, str] | BaseException
            try:
                got = hash_and_identity(f, self.CHUNK)
            except BaseException as exc:  # given to the caller by ``take``, in its own thread
                got = exc
            with self._ready:
                self._got[f] = got
                self._ready.notify_all()

    def ready(self, path: str) -> bool:
        """Whether ``take(path)`` would not wait for this thread: its hash is done, or ``path`` was
        never given here (a file that appeared in a capture's folder since: ``take`` hashes it)."""
        if path not in self._files:
            return True
        with self._ready:
            return path in self._got

    def take(self, path: str) -> tuple[str, str]:
        """``hash_and_identity(path)``, hashed already or now."""
        if path not in self._files:
            return hash_and_identity(path)
        with self._ready:
            self._ready.wait_for(lambda: path in self._got)
            got = self._got[path]
        if isinstance(got, BaseException):
            raise got
        return got


class CaptureChanged(CaptureError):
    """A file's bytes as read differ from the sha256 it was named by: it changed meanwhile."""

    def __init__(self, path: str, got: str, want: str) -> None:
        self.path, self.got, self.want = path, got, want
        super().__init__(
            f"{path}: changed while it was read (sha256 {got[:16] or 'unknown'}, "
            f"expected {want[:16]}); nothing of it was kept"
        )


def verify_read(path: str, want: str, got: str) -> None:
    """Raise CaptureChanged unless the bytes read (``got``) are the ones named (``want``)."""
    if got != want:
        raise CaptureChanged(path, got, want)


@runtime_checkable
class Source(Protocol):
    """What the pipeline needs of a packet source."""

    @property
    def capture_id(self) -> str:
        """The capture's name in the store (a file's sha256; a live session's host, interface, start)."""
        ...

    def batches(self) -> Iterator[list[Packet]]:
        """Packets in time order, a batch at a time (a batch may be empty while a live wire is quiet)."""
        ...

    def close(self) -> None:
        """Release what the source holds (files, the capture handle); batches end."""
        ...


@dataclass
class PcapSource:
    """One capture: a file, or the rotated files of a directory or glob, in time order."""

    path: str
    files: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    stats: ReadStats = field(default_factory=ReadStats)
    formats: set[str] = field(default_factory=set)
    # TLS secrets for this capture: the key log files given with it, and the capture's own pcapng
    # Decryption Secrets Blocks, taken as the reader meets them (before the packets they precede)
    keys: KeyLog | None = None
    limits: Limits = field(default_factory=Limits)  # bounds on a compressed file's output
    # the files' identities when hashed; the reader (a replay, its workers) checks it read those
    identities: list[str] = field(default_factory=list)
    hashed_reads: bool = False  # True: hash what is read again and compare with the sha256
    prehash: Prehash | None = None  # the files' hashes begun before (the CLI, while the store opens)
    # with ``prehash``: read before the files are named (their hashes still running in its thread);
    # ``named`` says when they are, and what needs a name waits for it (``names``)
    deferred: bool = False
    # how a forked replay worker waits for the names its parent hashed (``set_names``): the
    # parent's hashing thread is not in the child
    resolver: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        self.files = expand_inputs(self.path)
        for f in self.files:  # fail before anything is written, not halfway through
            sniff_format(f)
        if not (self.deferred and self.prehash is not None):
            self.names()

    def named(self) -> bool:
        """Whether the files are named (hashed), without waiting: once every file's hash is done,
        they are named here."""
        if self.hashes:
            return True
        if self.resolver is None and self.prehash is not None and all(map(self.prehash.ready, self.files)):
            self.names()
            return True
        return False

    def names(self) -> None:
        """Name the files, waiting for their hashes (a hashing error is raised here)."""
        if self.hashes:
            return
        if self.resolver is not None:
            self.resolver()
            return
        hashed = self.prehash.take if self.prehash is not None else hash_and_identity
        got = [hashed(f) for f in self.files]
        self.set_names([h for h, _i in got], [i for _h, i in got])

    def set_names(self, hashes: list[str], identities: list[str]) -> None:
        self.hashes, self.identities = list(hashes), list(identities)

    @property
    def capture_id(self) -> str:
        """The file's sha256, or the sha256 of the files' sha256s for several files."""
        self.names()
        if len(self.hashes) == 1:
            return self.hashes[0]
        return hashlib.sha256("\n".join(self.hashes).encode()).hexdigest()

    def formats_sniffed(self) -> set[str]:
        """The files' formats as their headers say (before reading: ``formats`` fills while reading)."""
        return {sniff_format(f)[0] for f in self.files}

    @property
    def size(self) -> int:
        return sum(os.path.getsize(f) for f in self.files)

    def batches(self, walker: WalkerFactory | None = None) -> Iterator[list[Packet]]:
        """Packets of all files in order, in the reader's batches (the hot path); with ``walker``,
        a classic pcap's records go to it and its batches are empty (``parsers.capture.read_batches``)."""
        st = self.stats
        for i, f in enumerate(self.files):
            for batch in read_batches(f, st, self.limits, self.hashed_reads, walker):
                if st.secrets:
                    self._take_secrets(f)
                yield batch
            if st.secrets:  # a DSB after the last packet still belongs to the capture
                self._take_secrets(f)
            self.names()  # read before named: what was read is checked against what was hashed
            verify_read(f, (self.hashes if self.hashed_reads else self.identities)[i], st.sha256)
            self.formats.add(st.format)

    def _take_secrets(self, path: str) -> None:
        """Hand the reader's DSBs to the key log (one is made for a capture that brought its own)."""
        if self.keys is None:
            self.keys = KeyLog()
        for stype, data in self.stats.secrets:
            self.keys.add_dsb(stype, data, path)
        self.stats.secrets.clear()

    def close(self) -> None:
        """Nothing to release: each file is opened and closed inside ``batches``."""
