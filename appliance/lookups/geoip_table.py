"""geoip2fast's country-and-ASN table, read in place instead of unpickled whole (issue 20, point 3).

``GeoIP2Fast()`` unpickles its whole data file (788,735 networks, two tables) into Python lists on
the first lookup: ~0.15 CPU-s and ~115 MiB RSS, in every replay, for the few hundred addresses a
small capture has. The same data is written once, on the first use of a data file, into a cache
file of fixed-width big-endian columns (first address 16 bytes, country or AS id 4, prefix length
1) that is mapped, not read: a lookup's two binary searches run in the mapped bytes (numpy) and
convert only the few values they land on.

The lookup follows geoip2fast's own, step for step (``GeoIP2Fast.lookup``, ``_main_index_lookup``,
``_country_lookup``, ``_asn_lookup`` in geoip2fast 1.2): a two-level search of the first
addresses (the root index, then one chunk), the prefix length bounding the match, private
networks for country ids under 16, and its quirks kept (the ASN bound uses IPv6 sizes even for
IPv4 addresses when the file holds IPv6; negative indices wrap as Python's do). geoip2fast itself
is the oracle of ``tests/lab/test_geoip.py``, on random and real addresses of both families.

The cache (``$TAPAUDIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/tapaudit``, else ``~/.cache/tapaudit``)
is named by the data file's sha256 and this format's version, written to a temporary name and
renamed; its header is JSON and its body plain integers, so a damaged file can give wrong
answers for its own cache key at worst, never run code. Where it cannot be written the table is
built in memory, with the same code.
"""

from __future__ import annotations

import bisect
import contextlib
import gzip
import json
import mmap
import os
import pickle
import socket
import struct
import tempfile
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from policies.cachefile import cache_dir

FORMAT = 1
MAGIC = b"tapaudit-geoip\n"
FIRST_W, ID_W, LEN_W = 16, 4, 1  # bytes per first address, country/AS id, prefix length
PRIVATE_IDS = 16  # geoip2fast: country ids below this are IANA's special-purpose networks
PRIVATE = NOT_FOUND = "--"  # geoip2fast's GEOIP_ECCODE_PRIVATE_NETWORKS, _NETWORK_NOT_FOUND
# geoip2fast's address counts by prefix length (numIPsv4/numIPsv6: 2**(bits - len), then 0)
NUM_V4 = [*sorted((2**n for n in range(33)), reverse=True), 0]
NUM_V6 = [*sorted((2**n for n in range(129)), reverse=True), 0]
MAX_V4 = NUM_V4[0]


class Column(Sequence[int]):
    """One chunk of a column: ``n`` unsigned big-endian integers of ``width`` bytes at ``start`` of
    ``buf``, indexed like a list (negative indices from the end) so ``bisect`` searches it."""

    __slots__ = ("_keys", "buf", "n", "start", "width")

    def __init__(self, buf: Any, start: int, n: int, width: int) -> None:
        self.buf, self.start, self.n, self.width = buf, start, n, width
        self._keys: Any = None

    def bisect_right(self, x: int) -> int:
        """``bisect.bisect_right(self, x)``, searched by numpy in the mapped bytes: the values are
        fixed-width big-endian, so their order is their bytes' order. A Python bisect converted
        about 13 values a search, 5 µs; this is 2 µs (a capture with 20,000 remote addresses
        makes 40,000 searches; issue 20)."""
        if self._keys is None:
            import numpy as np  # loaded with the pipeline already; not for a lone lookup's import

            self._keys = np.frombuffer(self.buf, dtype=f"S{self.width}", count=self.n, offset=self.start)
        return int(self._keys.searchsorted(x.to_bytes(self.width, "big"), side="right"))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.n))]
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(i)
        at = self.start + i * self.width
        return int.from_bytes(self.buf[at : at + self.width], "big")


class Names(Sequence[str]):
    """A list of UTF-8 strings stored end to end, with their ends (``array('I')``)."""

    __slots__ = ("buf", "ends", "start")

    def __init__(self, buf: Any, start: int, ends: array[int]) -> None:
        self.buf, self.start, self.ends = buf, start, ends

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        end = self.ends[i]  # IndexError and negative indices as a list's
        if i < 0:
            i += len(self.ends)
        begin = self.ends[i - 1] if i else 0
        return bytes(self.buf[self.start + begin : self.start + end]).decode("utf-8")


class Table:
    """The country and AS tables of one geoip2fast data file (``lookup``)."""

    def __init__(self, buf: Any) -> None:
        if bytes(buf[: len(MAGIC)]) != MAGIC:
            raise ValueError("not a tapaudit GeoIP table")
        hlen = int.from_bytes(buf[len(MAGIC) : len(MAGIC) + 8], "big")
        body = len(MAGIC) + 8 + hlen
        head = json.loads(bytes(buf[len(MAGIC) + 8 : body]))
        if head["format"] != FORMAT or len(buf) != body + head["body"]:
            raise ValueError("GeoIP table of another format, or cut")
        self.buf = buf  # kept: the columns read it (an mmap stays open as long as they do)
        self.release: str = head["info"]
        self.index: list[int] = head["index"]
        self.index_asn: list[int] = head["index_asn"]
        self.countries: list[str] = head["countries"]
        self.ipv6: bool = self.index[-1] > MAX_V4  # geoip2fast's own test of the file

        def cols(name: str, width: int) -> list[Column]:
            return [Column(buf, body + at, n, width) for at, n in head[name]]

        self.first, self.ids, self.lens = cols("first", FIRST_W), cols("ids", ID_W), cols("lens", LEN_W)
        self.first_asn, self.ids_asn = cols("first_asn", FIRST_W), cols("ids_asn", ID_W)
        self.lens_asn = cols("lens_asn", LEN_W)
        at, n = head["asn_ends"]
        ends = array("I")
        ends.frombytes(bytes(buf[body + at : body + at + 4 * n]))
        self.asn_names = Names(buf, body + head["asn_text"], ends)

    def lookup(self, ip: str) -> tuple[str, str]:
        """geoip2fast's ``(country_code, asn_name)`` for ``ip``: ``--`` for private, reserved and
        unlisted networks, ``''`` for what is not an address."""
        try:
            iplong = _ip2int(ip)
        except (OSError, ValueError, TypeError):
            return "", ""
        try:
            root = bisect.bisect_right(self.index, iplong) - 1
            chunk = self.first[root].bisect_right(iplong) - 1
            first = self.first[root][chunk]
            netlen = self.lens[root][chunk]
            last = first + (NUM_V4 if iplong <= MAX_V4 else NUM_V6)[netlen] - 1
            if iplong > last:
                return NOT_FOUND, ""
            _int2ip(first)  # geoip2fast formats the network here: an error is its internal error
            asn = self._asn(iplong)
            cc_id = self.ids[root][chunk]
            code, _name = self.countries[cc_id].split(":")
        except Exception:  # geoip2fast: any other failure is GEOIP_ECCODE_LOOKUP_INTERNAL_ERROR
            return "", ""
        return (PRIVATE if cc_id < PRIVATE_IDS else code), asn

    def _asn(self, iplong: int) -> str:
        try:
            root = bisect.bisect_right(self.index_asn, iplong) - 1
            chunk = self.first_asn[root].bisect_right(iplong) - 1
            first = self.first_asn[root][chunk]
            asn_id = self.ids_asn[root][chunk]
            netlen = self.lens_asn[root][chunk]
            if iplong > first + (NUM_V6 if self.ipv6 else NUM_V4)[netlen] - 1:
                return ""
            name = self.asn_names[asn_id]
            _int2ip(first)
            return name
        except Exception:
            return ""


def _ip2int(ip: str) -> int:
    """geoip2fast's ``_ip2int``: dotted IPv4 as inet_aton reads it, else IPv6."""
    try:
        return int(struct.unpack(">L", socket.inet_aton(ip))[0])
    except (OSError, ValueError, TypeError):
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, ip), byteorder="big")


def _int2ip(iplong: int) -> str:
    if iplong < MAX_V4:
        return socket.inet_ntoa(struct.pack(">L", iplong))
    return socket.inet_ntop(socket.AF_INET6, bytes.fromhex(hex(iplong)[2:].zfill(32)))


def build(gz_path: Path) -> bytes:
    """The table file for a geoip2fast ``.dat.gz`` with country and ASN (its pickle: version,
    source info, network count, then the ten lists of ``GeoIP2Fast.__load_data``)."""
    with gzip.open(gz_path, "rb") as fh:
        version, source, _total, db = pickle.load(fh)  # the installed package's own data
    if version not in (120, 121) or not (source.get("country") and source.get("asn")):
        raise ValueError(f"{gz_path.name}: not a geoip2fast country-and-ASN file")
    index, index_asn, countries, asn_names, first, first_asn, ids, ids_asn, lens, lens_asn = db
    parts: list[bytes] = []
    size = 0
    head: dict[str, Any] = {"format": FORMAT, "info": source.get("info", ""), "index": index,
                            "index_asn": index_asn, "countries": countries}  # fmt: skip

    def put(data: bytes) -> int:
        nonlocal size
        parts.append(data)
        size += len(data)
        return size - len(data)

    for name, chunks, width in (("first", first, FIRST_W), ("ids", ids, ID_W), ("lens", lens, LEN_W),
                                ("first_asn", first_asn, FIRST_W), ("ids_asn", ids_asn, ID_W),
                                ("lens_asn", lens_asn, LEN_W)):  # fmt: skip
        head[name] = [(put(b"".join(v.to_bytes(width, "big") for v in c)), len(c)) for c in chunks]
    encoded = [n.encode("utf-8") for n in asn_names]
    ends = array("I")
    total = 0
    for e in encoded:
        total += len(e)
        ends.append(total)
    head["asn_ends"] = (put(ends.tobytes()), len(ends))
    head["asn_text"] = put(b"".join(encoded))
    head["body"] = size
    header = json.dumps(head, separators=(",", ":")).encode()
    return b"".join([MAGIC, len(header).to_bytes(8, "big"), header, *parts])


def open_table(gz_path: Path, digest: str) -> Table:
    """The table of ``gz_path`` (whose sha256 prefix is ``digest``): mapped from the cache, built
    into it on first use, or built in memory when the cache cannot be written."""
    path = cache_dir() / f"geoip-{gz_path.name.split('.')[0]}-{digest}-v{FORMAT}.bin"
    with contextlib.suppress(OSError, ValueError):
        return _mapped(path)
    data = build(gz_path)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return Table(data)


def _mapped(path: Path) -> Table:
    with open(path, "rb") as fh:
        buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return Table(buf)
    except (ValueError, KeyError, TypeError):
        buf.close()
        raise ValueError(f"{path}: not a usable GeoIP table") from None
