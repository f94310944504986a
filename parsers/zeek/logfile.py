"""One Zeek log file read row by row, whatever way Zeek (or zeek-cut) wrote it.

Zeek's ASCII writer (``zeek/src/logging/writers/ascii/Ascii.cc``) starts a TSV log with
``#separator``, ``#set_separator``, ``#empty_field``, ``#unset_field``, ``#path``, ``#open``,
``#fields`` and ``#types`` lines and ends it with ``#close``; with ``LogAscii::use_json=T`` it
writes one JSON object per line instead (the ``_path`` key is there when the writer was told to
add it, as Malcolm, Security Onion and Corelight do). ``zeek-cut -m`` keeps a single plain header
line of field names. Any of these may be gzip-compressed (``.gz``, rotated archives).

A row comes out as a dict from field name to value: ``None`` for the unset field (``-``), a list for
``set[...]``/``vector[...]`` fields (empty for ``(empty)``), the text otherwise. Timestamps stay
text; Zeek's own test baselines mask them as ``XXXXXXXXXX.XXXXXX`` (``parse_time`` gives ``None``).
A line that cannot be read (cut JSON, a wrong number of TSV fields) is counted and skipped.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from parsers.capture import CaptureError

GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 4096  # enough for a TSV header block or the first JSON row
# the header fields the ASCII writer always puts before #fields (Ascii.cc, WriteHeader)
TSV_HEADER_KEYS = (
    "#separator",
    "#set_separator",
    "#empty_field",
    "#unset_field",
    "#path",
    "#fields",
    "#types",
)


# A stream told by its fields when no #path or _path says it (JSON lines without _path, zeek-cut
# output): fields only that stream's Info record has (Zeek's base/policy scripts), first match wins
SIGNATURES = (
    ("conn", ("conn_state",)),
    ("conn", ("orig_pkts",)),
    ("dns", ("qtype_name",)),
    ("dns", ("trans_id", "query")),
    ("x509", ("certificate.subject",)),
    ("x509", ("certificate",)),
    ("ssl", ("server_name", "cipher")),
    ("ssl", ("established",)),
    ("quic", ("client_initial_dcid",)),
    ("http", ("trans_depth",)),
    ("dhcp", ("msg_types",)),
    ("mqtt_connect", ("proto_name", "client_id")),
    ("mqtt_publish", ("payload_len", "topic")),
    ("mqtt_subscribe", ("topics", "action")),
    ("files", ("fuid",)),
    ("software", ("software_type",)),
    ("known_services", ("port_num",)),
)


def stream_of_fields(names: list[str] | set[str], fallback: str) -> str:
    """The stream whose fields these are (``SIGNATURES``), else ``fallback`` (the file's name)."""
    have = set(names)
    for stream, needed in SIGNATURES:
        if all(n in have for n in needed):
            return stream
    return fallback


class ZeekLogError(CaptureError):
    """Not a Zeek log, or one whose header cannot be read (a bad input, as a bad capture is)."""


@dataclass
class LogStats:
    rows: int = 0
    bad_lines: int = 0  # cut or malformed lines, skipped
    cut: bool = False  # the file ended inside its compressed stream: the rows before were read


@dataclass
class LogHeader:
    """What a log says of itself before its rows."""

    fmt: str  # zeek-tsv, zeek-json, zeek-cut
    path: str  # the log's stream (conn, dns, ...): #path, _path, else the file name's first part
    fields: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    separator: str = "\t"
    set_separator: str = ","
    empty: str = "(empty)"
    unset: str = "-"


def open_log(path: str) -> IO[bytes]:
    """The file's bytes, decompressed when it is gzip (by its magic, not its name)."""
    fh = open(path, "rb")  # noqa: SIM115  # handed to the caller, who closes it
    head = fh.read(2)
    fh.seek(0)
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    return fh


def stream_of_name(path: str) -> str:
    """A log's stream from its file name: ``conn.2024-01-02-03-00-00.log.gz`` and
    ``conn.log.labeled`` are ``conn``; ``known_hosts.log`` is ``known_hosts``."""
    return os.path.basename(path).split(".", 1)[0]


def _unescape(text: str) -> str:
    r"""``\x09`` and friends as the writer escapes them in the #separator line."""
    return text.encode("latin-1").decode("unicode_escape") if "\\x" in text else text


def sniff(path: str) -> LogHeader | None:
    """The log's header if the file's first bytes are a Zeek log (TSV, JSON lines, zeek-cut -m),
    else None. Decided by content only: a file's name never makes it a log."""
    try:
        with open_log(path) as fh:
            head = fh.read(SNIFF_BYTES)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    text = head.decode("utf-8", "replace")
    lines = [ln for ln in text.split("\n") if not ln.startswith("###")]  # btest's banner line
    if not lines:
        return None
    if lines[0].startswith("#separator"):
        return _tsv_header(lines, path)
    first = lines[0].strip()
    if first.startswith("{"):
        try:
            obj = json.loads(first)
        except ValueError:
            return None
        if isinstance(obj, dict) and ("ts" in obj or "_path" in obj) and ("uid" in obj or "_path" in obj):
            keys = set(obj) | {f"{k}.{sub}" for k, v in obj.items() if isinstance(v, dict) for sub in v}
            stream = str(obj.get("_path") or stream_of_fields(keys, stream_of_name(path)))
            return LogHeader("zeek-json", stream)
        return None
    cols = first.split("\t")
    if len(lines) > 1 and "ts" in cols and len(cols) >= 2 and all(c and " " not in c for c in cols):
        return LogHeader("zeek-cut", stream_of_fields(cols, stream_of_name(path)), fields=cols)
    return None


def _tsv_header(lines: list[str], path: str) -> LogHeader | None:
    meta: dict[str, str] = {}
    for ln in lines:
        if not ln.startswith("#"):
            break
        key, _sp, value = ln.partition("\t" if ln.startswith(("#fields", "#types", "#path")) else " ")
        if key == "#separator":
            meta[key] = _unescape(value.strip())
        else:
            meta[key] = value
    sep = meta.get("#separator", "\t")
    if "#fields" not in meta:
        return None
    hdr = LogHeader("zeek-tsv", meta.get("#path", "").strip() or stream_of_name(path))
    hdr.separator = sep
    hdr.fields = meta["#fields"].rstrip("\r").split(sep)
    hdr.types = meta.get("#types", "").rstrip("\r").split(sep)
    hdr.set_separator = _unescape(meta.get("#set_separator", ",")) or ","
    hdr.empty = meta.get("#empty_field", "(empty)")
    hdr.unset = meta.get("#unset_field", "-")
    return hdr


def read_rows(path: str, hdr: LogHeader, stats: LogStats) -> Iterator[dict[str, Any]]:
    """The log's rows as dicts (see the module's docstring for values)."""
    with open_log(path) as fh:
        try:
            if hdr.fmt == "zeek-json":
                yield from _json_rows(fh, stats)
            else:
                yield from _tsv_rows(fh, hdr, stats)
        except (EOFError, OSError, zlib.error):  # a gzip archive cut short (a copy still running)
            stats.bad_lines += 1
            stats.cut = True


def _json_rows(fh: IO[bytes], stats: LogStats) -> Iterator[dict[str, Any]]:
    for raw in fh:
        line = raw.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            stats.bad_lines += 1
            continue
        if not isinstance(obj, dict):
            stats.bad_lines += 1
            continue
        stats.rows += 1
        yield obj


def _tsv_rows(fh: IO[bytes], hdr: LogHeader, stats: LogStats) -> Iterator[dict[str, Any]]:
    sep, sset, empty, unset = hdr.separator, hdr.set_separator, hdr.empty, hdr.unset
    names = hdr.fields
    containers = {i for i, t in enumerate(hdr.types) if t.startswith(("set[", "vector["))}
    n = len(names)
    header_left = hdr.fmt == "zeek-cut"  # zeek-cut -m: its one header line comes first
    for raw in fh:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line or line.startswith("#"):
            continue
        if header_left:
            header_left = False
            continue
        parts = line.split(sep)
        if len(parts) != n:
            stats.bad_lines += 1
            continue
        row: dict[str, Any] = {}
        for i, (name, v) in enumerate(zip(names, parts, strict=True)):
            if v == unset:
                row[name] = None
            elif i in containers:
                row[name] = [] if v == empty else v.split(sset)
            else:
                row[name] = "" if v == empty else v
        stats.rows += 1
        yield row


def parse_time(value: Any) -> int | None:
    """A Zeek ``time`` (epoch seconds with a fraction, as text or JSON number; ISO 8601 when the
    JSON writer was set to it) in ns; None when unset, masked (btest's ``XXXXXXXXXX.XXXXXX``) or not
    a time between 1970 and 2116 (what the store's UInt64 ns hold with room to spare)."""
    ns = _time_ns(value)
    return ns if ns is not None and 0 <= ns < MAX_NS else None


MAX_NS = 1 << 62


def _time_ns(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return round(float(value) * 1e9)
        text = str(value)
        if text[:1] == "X":
            return None
        secs, _dot, frac = text.partition(".")
        if secs.isdigit() and (not frac or frac.isdigit()):
            return int(secs) * 1_000_000_000 + int((frac + "000000000")[:9] or 0)
        import datetime as dt

        return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1e9)
    except (ValueError, OverflowError, TypeError):
        return None


def as_int(value: Any) -> int:
    """A ``count``/``port`` field; 0 when unset, not a number, negative or past UInt64's half."""
    if value is None or value == "" or isinstance(value, bool):
        return 0
    try:
        n = int(value)
    except (TypeError, ValueError):
        try:
            n = int(float(value))
        except (TypeError, ValueError, OverflowError):
            return 0
    return n if 0 <= n < MAX_NS else 0


def as_list(value: Any) -> list[str]:
    """A container field as a list of text (a JSON array, or the TSV split); [] when unset."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(x) for x in value]
    return [str(value)]


def as_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value) in ("T", "true", "1")
