"""The TLS key files a lab brings with a capture (issue 16): read, followed, recorded and handed back.

``load_keys`` reads every ``--keylog`` (a file, or every file of a folder) into one
``parsers.decrypt.keys.KeyLog`` before anything is stored: a file that cannot be read is one
``KeyFileError`` naming it (exit 1, nothing stored). A live capture follows its key logs as they
grow (``KeyFollower``: the new bytes at each flush, whole lines only). The store keeps what names
and checks a key file (``key_rows``: path, sha256, kind, line counts), never the secrets, unless
the lab asked for ``--raw-evidence`` (``key_line_rows``: the lines, in ``capture_key_lines``).
``lines_for`` rebuilds the NSS key log lines of chosen ClientHello randoms, the key log that
goes beside a finding's evidence pcap (the key log format of draft-ietf-tls-keylogfile).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from appliance.store.schema import CAPTURE_KEY_LINES, CAPTURE_KEYS
from parsers.capture import CaptureError
from parsers.decrypt.keys import KEYLOG, LABELS, KeyLog, KeySource


class KeyFileError(CaptureError):
    """A key log that cannot be read, or one that changed since the capture was replayed (one line)."""


def expand_keylogs(paths: Iterable[str]) -> list[str]:
    """Each ``--keylog`` as files: a folder stands for every regular file in it, by name."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            out += sorted(os.path.join(p, n) for n in os.listdir(p) if os.path.isfile(os.path.join(p, n)))
        else:
            out.append(p)
    return out


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise KeyFileError(f"key log {path}: cannot read ({exc.strerror or exc})") from None


def load_keys(paths: Iterable[str]) -> KeyLog:
    """One ``KeyLog`` from every key log file named (read whole, now: a bad path fails before a
    replay writes anything). Paths are recorded absolute, so evidence can find them later."""
    keys = KeyLog()
    for path in expand_keylogs(paths):
        path = os.path.abspath(path)
        data = _read(path)
        taken, bad = keys.add_text(data, KEYLOG)
        keys.sources.append(KeySource(path, hashlib.sha256(data).hexdigest(), KEYLOG, taken, bad))
    return keys


@dataclass
class KeyFollower:
    """Key logs that grow while a live capture runs: ``poll`` takes the whole lines written since
    the last poll (a line still being written waits for its newline). A file that is not there yet
    or cannot be read is tried again at the next poll; it was checked readable at the start."""

    keys: KeyLog
    paths: list[str]
    offsets: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # path -> source, when not KEYLOG (INTERCEPT)

    def poll(self) -> int:
        """Read what the files gained; the number of secret lines taken."""
        taken = 0
        for path in self.paths:
            at = self.offsets.get(path, 0)
            try:
                with open(path, "rb") as fh:
                    if os.fstat(fh.fileno()).st_size < at:  # truncated or replaced: read it again
                        at = 0
                    fh.seek(at)
                    new = fh.read()
            except OSError:
                continue
            end = new.rfind(b"\n") + 1
            if end:
                self.offsets[path] = at + end
                taken += self.keys.add_text(new[:end], self.kinds.get(path, KEYLOG))[0]
        return taken

    def sources(self) -> list[KeySource]:
        """The followed files as they stand now (sha256 of the bytes read so far)."""
        out = []
        for path in self.paths:
            try:
                with open(path, "rb") as fh:
                    data = fh.read(self.offsets.get(path, 0))
            except OSError:
                continue
            probe = KeyLog()
            taken, bad = probe.add_text(data)
            out.append(
                KeySource(path, hashlib.sha256(data).hexdigest(), self.kinds.get(path, KEYLOG), taken, bad)
            )
        return out


def key_rows(cid: str, ingest: int, sources: Iterable[KeySource]) -> list[tuple[object, ...]]:
    """``capture_keys`` rows: what names and checks each key file; never a secret."""
    return [
        CAPTURE_KEYS.row(
            capture_id=cid,
            ingest_id=ingest,
            path=s.path,
            sha256=s.sha256,
            kind=s.kind,
            lines=s.lines,
            bad_lines=s.bad_lines,
        )
        for s in sources
    ]


def lines_for(keys: KeyLog, randoms: Iterable[bytes] | None = None) -> list[str]:
    """NSS key log lines of the given ClientHello randoms (all when None), in a stable order."""
    chosen = sorted(keys.by_random) if randoms is None else sorted(set(map(bytes, randoms)))
    out = []
    for rnd in chosen:
        s = keys.lookup(rnd)
        if s is None:
            continue
        for label, name in LABELS.items():
            secret = getattr(s, name)
            if secret:
                out.append(f"{label} {rnd.hex()} {secret.hex()}")
    return out


def key_line_rows(
    cid: str, ingest: int, keys: KeyLog, randoms: Iterable[bytes] | None = None
) -> list[tuple[object, ...]]:
    """``capture_key_lines`` rows (only with --raw-evidence: they hold the secrets): the lines of
    ``randoms`` (the capture's own handshakes, so keys for other captures are not kept), or all."""
    return [
        CAPTURE_KEY_LINES.row(capture_id=cid, ingest_id=ingest, client_random=line.split()[1], line=line)
        for line in lines_for(keys, randoms)
    ]
