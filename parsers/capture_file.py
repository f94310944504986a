"""A capture file opened once: refused unless it is a regular file, hashed as it is read, its
decompression bounded.

Why one open file (issue 17): replay names a capture by the sha256 of its bytes and evidence
refuses a file whose sha256 changed; hashing a path and then opening it again to read lets a
file swapped in between pass as verified. ``HashedFile`` hashes exactly the bytes it hands to
the reader (and, at ``finish``, the rest of the file), so the digest a caller checks is the
digest of what was parsed.

Why refuse special files before reading: a FIFO with no writer blocks ``open()`` and ``read()``
forever, and a device or socket is not a capture. The file is opened non-blocking (which never
waits for a FIFO's writer) and checked with ``fstat`` on that descriptor, so a path swapped for a
FIFO between the check and the open is refused too.

Decompression is bounded (``Limits``): a few megabytes of gzip can expand to gigabytes of
records (the issue's 1 MB ``.gz`` gave 67 million). The defaults: 8 GiB decompressed per
file, far above the captures the lab replays (the largest shared one is 2 MB; a live ring
file is rotated long before) yet a bound on a replay's time; and a ratio of 200:1, judged
only once 64 MiB have come out. The 199 real captures over 200 kB in the shared set
compress 2.6:1 (median) to 11.3:1 (most) with gzip -6 (payloads are mostly encrypted), so
200:1 leaves a margin of 17 over the most compressible; a block bomb of zeros comes out at
~1000:1 (deflate's ceiling is 1032:1, RFC 1951: a 258-byte match costs 2 bits at best).
"""

from __future__ import annotations

import bz2
import contextlib
import fcntl
import gzip
import hashlib
import io
import lzma
import math
import os
import stat
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

READ = 1 << 20  # bytes per read when the caller does not say (hashing the rest of a file)
DEFAULT_MAX_DECOMPRESSED = 8 << 30
DEFAULT_MAX_RATIO = 200
RATIO_FLOOR = 64 << 20  # the ratio is judged once this much has been decompressed

GZIP_MAGIC = b"\x1f\x8b"
# Compressed captures by their stream's first bytes (RFC 1952; the .xz format 1.0.4, 2.1.1.1;
# bzip2's "BZh" and block size digit), read through the standard library's decompressors.
CODECS = {GZIP_MAGIC: "gzip", b"\xfd7zXZ\x00": "xz", b"BZh": "bzip2"}
# Each reads the one ``HashedFile`` the reader opened (never the path again).
OPENERS: dict[str, Callable[[IO[bytes]], io.BufferedIOBase]] = {
    "gzip": lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
    "xz": lambda raw: lzma.LZMAFile(raw, "rb"),  # noqa: SIM115 (read_batches closes it)
    "bzip2": lambda raw: bz2.BZ2File(raw, "rb"),
}
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # RFC 8878: no decompressor in the standard library
# A compressed stream cut short or corrupt (gzip's CRC or length, deflate data zlib rejects, xz's
# integrity check, a cut trailer): what was decompressed before it is kept and the capture is
# marked truncated.
STREAM_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error)


def codec_of(head: bytes) -> str:
    """The compression a file's first bytes name ("" for none)."""
    return next((name for magic, name in CODECS.items() if head.startswith(magic)), "")


class CaptureError(Exception):
    """The input is not a capture this reader understands (one-line reason)."""


class LimitError(CaptureError):
    """A compressed capture expands beyond ``Limits``: nothing of it is kept."""


@dataclass(frozen=True)
class Limits:
    """Bounds on one compressed file's output (``tapaudit replay --max-decompressed``)."""

    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED  # bytes out of one file; 0: no limit
    max_ratio: int = DEFAULT_MAX_RATIO  # decompressed bytes per compressed byte; 0: no limit

    def check(self, path: str, out: int, consumed: int) -> None:
        """Raise LimitError when ``out`` decompressed bytes from ``consumed`` compressed ones is too much."""
        if self.max_decompressed and out > self.max_decompressed:
            raise LimitError(
                f"{path}: decompresses to more than {fmt_size(self.max_decompressed)} "
                "(raise --max-decompressed to read it)"
            )
        if self.max_ratio and out > RATIO_FLOOR and out > self.max_ratio * max(consumed, 1):
            raise LimitError(
                f"{path}: decompresses more than {self.max_ratio}:1 ({fmt_size(out)} from "
                f"{fmt_size(consumed)}), which real captures do not (raise --max-ratio to read it)"
            )


def fmt_size(n: int) -> str:
    """Bytes in binary units, as ``parse_size`` reads them back."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}


def parse_size(text: str) -> int:
    """``8GiB``, ``500M``, ``2g``, ``1000000``: bytes (binary with ``i``, decimal without); ValueError."""
    s = text.strip().lower().replace(" ", "").removesuffix("b")
    binary = s.endswith("i")
    s = s.removesuffix("i")
    unit = s[-1] if s and s[-1] in _UNITS else ""
    number = s[: len(s) - len(unit)]
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a size (e.g. 8GiB, 500MB, 0 for no limit)") from None
    if value < 0 or not math.isfinite(value):
        raise ValueError(f"{text!r} is not a size (e.g. 8GiB, 500MB, 0 for no limit)")
    base = 1024 ** "kmgt".index(unit) * 1024 if binary and unit else _UNITS[unit]
    return int(value * base)


_KINDS = (
    (stat.S_ISDIR, "is a directory, not a capture file"),
    (stat.S_ISFIFO, "is a FIFO (named pipe), not a capture file: save the capture to a file first"),
    (stat.S_ISSOCK, "is a socket, not a capture file"),
    (stat.S_ISCHR, "is a character device, not a capture file"),
    (stat.S_ISBLK, "is a block device, not a capture file"),
)


def _refuse_special(path: str, mode: int) -> None:
    for test, why in _KINDS:
        if test(mode):
            raise CaptureError(f"{path}: {why}")
    if not stat.S_ISREG(mode):
        raise CaptureError(f"{path}: not a regular file")


def _os_error(path: str, exc: OSError) -> CaptureError:
    if isinstance(exc, FileNotFoundError):
        return CaptureError(f"{path}: no such file")
    if isinstance(exc, PermissionError):
        return CaptureError(f"{path}: permission denied")
    return CaptureError(f"{path}: cannot open ({exc.strerror or exc})")


def open_regular(path: str) -> int:
    """A read-only descriptor of ``path`` if it is a regular file; CaptureError otherwise.

    Checked before opening (a clear message) and again on the descriptor (the path may have been
    swapped); opened with O_NONBLOCK so a FIFO never blocks, then put back to blocking reads.
    """
    try:
        _refuse_special(path, os.stat(path).st_mode)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _os_error(path, exc) from None
    try:
        _refuse_special(path, os.fstat(fd).st_mode)
        fl = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, fl & ~getattr(os, "O_NONBLOCK", 0))
    except BaseException:
        os.close(fd)
        raise
    return fd


class HashedFile:
    """A regular file read once from one descriptor; ``sha`` sees every byte handed out.

    ``peek`` reads ahead without consuming (the sniffed magic is read again by the reader but
    hashed once); ``consumed`` counts the bytes handed out (the compressed side of the ratio).
    """

    def __init__(self, path: str, hashed: bool = True) -> None:
        self.path = path
        self.fh = os.fdopen(open_regular(path), "rb", buffering=0)
        # unhashed: a replay worker (issue 20) reading a file its parent hashed; ``finish`` then
        # gives the descriptor's identity (``identity``) for the caller to compare with the parent's
        self.sha = hashlib.sha256() if hashed else None
        self.consumed = 0
        self._ahead = b""

    def _raw(self, n: int) -> bytes:
        try:
            data = self.fh.read(n) or b""
        except OSError as exc:
            raise _os_error(self.path, exc) from None
        if self.sha is not None:
            self.sha.update(data)
        return data

    def peek(self, n: int) -> bytes:
        """Up to ``n`` first bytes not yet handed out, kept for the next ``read``."""
        while len(self._ahead) < n:
            data = self._raw(n - len(self._ahead))
            if not data:
                break
            self._ahead += data
        return self._ahead[:n]

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = READ
        if self._ahead:
            data, self._ahead = self._ahead[:n], self._ahead[n:]
        else:
            data = self._raw(n)
        self.consumed += len(data)
        return data

    read1 = read

    def readable(self) -> bool:
        return True

    def finish(self, chunk: int | None = None) -> str:
        """Hash what is left unread (after a truncation, a trailer, trailing bytes): the file's
        sha256. Read into one buffer of ``chunk`` bytes (default ``READ``): each read and each update
        runs outside the GIL, so a hashing thread given large chunks keeps its pace beside others."""
        if self.sha is None:
            return self.identity()
        left = os.fstat(self.fh.fileno()).st_size - self.consumed - len(self._ahead)
        buf = bytearray(min(chunk or READ, max(1 << 16, left + 1)))  # a small file: about its size
        view = memoryview(buf)
        while True:
            try:
                got = self.fh.readinto(buf)
            except OSError as exc:
                raise _os_error(self.path, exc) from None
            if not got:
                break
            self.sha.update(view[:got])
        return self.sha.hexdigest()

    def identity(self) -> str:
        """The open file's identity: device, inode, size, modification and change times (ns). Any
        write to the file changes its change time, which no user can set back."""
        s = os.fstat(self.fh.fileno())
        return f"stat:{s.st_dev}:{s.st_ino}:{s.st_size}:{s.st_mtime_ns}:{s.st_ctime_ns}"

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.fh.close()

    def __enter__(self) -> HashedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
