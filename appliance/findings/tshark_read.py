"""A capture file as Wireshark reads it: tshark's packet list and its dissection fields, via pyshark.

pyshark runs tshark (Debian's package) for the dissection as JSON (``-T json``), whose
fields keep Wireshark's own names (https://www.wireshark.org/docs/dfref/); tshark's own columns give
the packet list (Protocol and Info as Wireshark shows them). TLS key lines, when
given, go to tshark's ``tls.keylog_file`` preference as Wireshark takes them (issue 16).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyshark


class TsharkError(Exception):
    """tshark is missing or could not read the file; one line meant for the user."""


@dataclass
class Frame:
    """One packet as tshark read it: its list row and its fields, flattened (name, value, path)."""

    number: int
    time: str
    src: str
    dst: str
    protocol: str
    length: int
    info: str = ""
    fields: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)


def version() -> str:
    """tshark's version ("4.0.17"); TsharkError when it is not installed."""
    exe = shutil.which("tshark")
    if not exe:
        raise TsharkError("tshark is not installed (Debian: apt-get install tshark)")
    res = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    first = (res.stdout.splitlines() or [""])[0]  # "TShark (Wireshark) 4.0.17 (Git v4.0.17 ...)"
    parts = first.split()
    return parts[2] if len(parts) > 2 else first


def read(path: str, keylog: str | None = None) -> list[Frame]:
    """Every packet of ``path`` as tshark dissects it (TsharkError when it cannot)."""
    prefs = {"tls.keylog_file": keylog} if keylog else {}
    asyncio.set_event_loop(asyncio.new_event_loop())  # pyshark's loop, one per call (worker processes)
    try:
        frames = {
            int(p.number): Frame(
                int(p.number),
                _utc(str(p.frame_info._all_fields.get("frame.time_epoch", "0"))),
                _addr(p, "src"),
                _addr(p, "dst"),
                "",
                int(p.length),
                fields=list(_flatten(p)),
            )
            for p in _each(path, prefs, use_json=True)
        }
        for number, protocol, info in _columns(path, keylog):
            f = frames.get(number)
            if f is not None:
                f.protocol, f.info = protocol, info
    except TsharkError:
        raise
    except Exception as exc:  # pyshark raises tshark's failures as several types
        first = str(exc).splitlines()[0] if str(exc) else repr(exc)
        raise TsharkError(f"tshark could not read {path}: {first}") from None
    return [frames[n] for n in sorted(frames)]


def _each(path: str, prefs: dict[str, str], **kw: Any) -> Iterator[Any]:
    with _asyncio_kept():
        cap = pyshark.FileCapture(path, override_prefs=prefs, keep_packets=False, **kw)
        try:
            yield from cap
        finally:
            cap.close()


@contextmanager
def _asyncio_kept() -> Iterator[None]:
    """Put back the process's asyncio child watcher once pyshark is done. pyshark (0.6,
    ``Capture._setup_eventloop``) installs a SafeChildWatcher bound to its own event loop, which it
    closes: every later asyncio subprocess in the process (a Playwright driver, a dashboard
    helper) then fails with "get_child_watcher() is not activated"."""
    if os.name != "posix":
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # child watchers: deprecated in 3.12
        before = asyncio.get_child_watcher()
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            asyncio.set_child_watcher(before)


def _columns(path: str, keylog: str | None) -> Iterator[tuple[int, str, str]]:
    """The packet list's Protocol and Info columns, as Wireshark shows them."""
    exe = shutil.which("tshark") or "tshark"
    cmd = [exe, "-n", "-r", path, "-T", "fields", "-E", "separator=/t", "-e", "frame.number"]
    cmd += ["-e", "_ws.col.Protocol", "-e", "_ws.col.Info"]
    if keylog:
        cmd += ["-o", f"tls.keylog_file:{keylog}"]
    res = subprocess.run(cmd, capture_output=True, text=True, errors="replace", check=False)
    if res.returncode != 0:
        raise TsharkError(f"tshark could not read {path}: {(res.stderr.strip().splitlines() or ['?'])[-1]}")
    for line in res.stdout.splitlines():
        number, _, rest = line.partition("\t")
        protocol, _, info = rest.partition("\t")
        if number.isdigit():
            yield int(number), protocol, info


def _utc(epoch: str) -> str:
    whole, _, frac = epoch.partition(".")
    t = datetime.fromtimestamp(int(whole), tz=UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S") + "." + (frac + "000000")[:6]


def _addr(p: Any, side: str) -> str:
    for layer in ("ip", "ipv6"):
        if hasattr(p, layer):
            return str(getattr(p, layer)._all_fields.get(f"{layer}.{side}", ""))
    return ""


def _flatten(p: Any) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(field name, shown value, the names above it) for every field of every layer (pyshark keeps
    the second and later instances of a protocol in a frame in ``duplicate_layers``)."""
    for layer in p.layers:  # a protocol met twice in a frame (HTTP/2 frames) is one layer and its duplicates
        for one in (layer, *getattr(layer, "duplicate_layers", ())):
            yield from _walk(one._all_fields, (layer.layer_name,))


def _walk(node: Any, above: tuple[str, ...]) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, dict | list):
                yield from _walk(v, (*above, str(k)))
            else:
                yield str(k), str(v), above
    elif isinstance(node, list):
        for v in node:
            if isinstance(v, dict | list):
                yield from _walk(v, above)
            else:
                yield above[-1], str(v), above[:-1]
