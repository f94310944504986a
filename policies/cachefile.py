"""What the tool builds from a file it ships, kept in the cache folder so later runs skip building it.

A replay used to parse the destination catalogue's YAML (15-20 ms) and the public suffix list
(7 ms) in every run (issue 20, point 3: a replay's fixed cost). ``kept`` stores what was built as
a marshal stream under the sha256 of the file's bytes, after the sha256 of that stream: an edited
file has a new key, and a cut or altered entry is built again, never believed. Only for files
that hold no one's personal data (never a lab's bench file, whose personas are). A cache that
cannot be read or written is passed over: the value is built as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = 1  # of an entry; marshal's own version is part of the name too


def cache_dir() -> Path:
    """The cache folder, this module's and the GeoIP table's (``appliance.lookups.geoip_table``):
    ``$TAPAUDIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/tapaudit``, else ``~/.cache/tapaudit``."""
    base = os.environ.get("TAPAUDIT_CACHE_DIR")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tapaudit"


def kept(kind: str, raw: bytes, build: Callable[[], Any]) -> Any:
    """``build()``'s value (made of what marshal holds: str, numbers, lists, dicts, sets...) for the
    file whose bytes are ``raw`` (or, for a large file, whose path and ``stat`` are: the GeoIP data's
    digest): read back from the cache, else built and kept. A value marshal cannot hold (a YAML
    date) is built each time."""
    entry = cache_dir() / f"{kind}-{hashlib.sha256(raw).hexdigest()[:32]}-v{FORMAT}m{marshal.version}.bin"
    with contextlib.suppress(OSError, EOFError, ValueError, TypeError):
        stored = entry.read_bytes()
        if hashlib.sha256(stored[32:]).digest() == stored[:32]:
            return marshal.loads(stored[32:])
    value = build()
    try:
        body = marshal.dumps(value)
    except ValueError:
        return value
    with contextlib.suppress(OSError):
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=entry.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(hashlib.sha256(body).digest() + body)
            os.replace(tmp, entry)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return value
