"""Where a remote address is, who registered it, and which network announces it: offline lookups.

Two questions, two sources (issue 15; TR-12 asks where personal data goes):

- ``country``: where the server is. MaxMind GeoLite2 Country as geoip2fast ships it
  (``geoip2fast-asn-ipv6.dat.gz``, whose country is GeoLite2's geolocated ``country``, falling
  back to the ``registered_country`` only where MaxMind has no location, per geoip2fast's
  ``geoip2dat.py``). A cloud server in Frankfurt on a block Amazon registered in the US is DE.
- ``registry_country``: the registrant of the address block, from the RIRs' delegated
  statistics that iptocc embeds. Kept beside the location because the two answer different
  questions (who is accountable for the block, where the bytes went).

The same geoip2fast file also names the AS organisation (GeoLite2 ASN), so one load serves
location and operator. geoip2fast unpickles all of it (~0.15 CPU-s, ~115 MiB RSS); the same
table is read in place instead (``geoip_table``: a cache file built once per data file, mapped
on the first public address looked up, never at import; measured in ``tests/lab/test_geoip.py``,
geoip2fast the oracle of every answer). Data versions are recorded with each capture
(``geoip_version``).
"""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import IO, cast

import iptocc

from appliance.lookups.geoip_table import Table, open_table
from policies.cachefile import kept

GEOIP_FILE = "geoip2fast-asn-ipv6.dat.gz"
GEOIP_DB = (
    "country: location by MaxMind GeoLite2 Country (geoip2fast); registry_country: RIR delegated"
    " statistics (iptocc); as_org: MaxMind GeoLite2 ASN (geoip2fast)"
)
NO_COUNTRY = frozenset(("", "--", "XX"))  # geoip2fast's private/reserved and unknown markers


def geoip_version() -> str:
    """Package versions, the GeoLite2 release inside the data file and the file's sha256 prefix."""
    return (
        f"geoip2fast {version('geoip2fast')} {GEOIP_FILE} ({_data_release()}, {_file_digest()});"
        f" iptocc {version('iptocc')}"
    )


def _path() -> Path:
    """The data file inside the installed geoip2fast, found without importing it (its module
    imports urllib, http.client and ssl for its updater: ~0.01 CPU-s a replay does not need)."""
    spec = find_spec("geoip2fast")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("geoip2fast is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / GEOIP_FILE


@lru_cache(maxsize=1)
def _file_digest() -> str:
    """sha256 prefix of the data file: names the data exactly without loading it. Hashing its 4.7 MB
    took 5 ms of every replay (issue 20, point 3), so the digest is kept in the cache folder under
    the file's path, size, modification time and inode (``policies.cachefile``): a new geoip2fast
    writes a new file, which is hashed again."""
    try:
        path = _path()
        st = path.stat()
        stamp = f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}".encode()
        digest: str = kept(
            "geoip-sha256",
            stamp,
            lambda: hashlib.sha256(path.read_bytes()).hexdigest()[:16],
            lambda v: isinstance(v, str) and len(v) == 16,
        )
        return "sha256:" + digest
    except (ImportError, OSError):
        return "data unavailable"


@lru_cache(maxsize=1)
def _data_release() -> str:
    """The file's own source line (``MAXMIND:GeoLite2-CountryASN-...-YYYYMMDD``), read from the head
    of its pickle stream without building the database (under a millisecond)."""
    import pickletools  # only here: a replay reads a few opcodes once

    try:
        with gzip.open(_path(), "rb") as gz:
            fh = cast(IO[bytes], gz)
            after_info = False
            for i, (_, arg, _) in enumerate(pickletools.genops(fh)):
                if isinstance(arg, str):
                    if after_info:
                        return arg
                    after_info = arg == "info"
                if i > 64:
                    break
    except (ImportError, OSError, ValueError, EOFError):
        pass
    return "release unknown"


@lru_cache(maxsize=1)
def _db() -> Table:
    """The geoip2fast data file's table, opened on first use only (``geoip_table``: mapped from a
    cache built once per data file, not unpickled whole in every process)."""
    return open_table(_path(), _file_digest().removeprefix("sha256:"))


def loaded() -> bool:
    """Whether the database has been loaded in this process (for the laziness test)."""
    return _db.cache_info().currsize > 0


@lru_cache(maxsize=1 << 16)
def _hit(ip: str) -> tuple[str, str]:
    """(located country, AS organisation) of a public address; ('', '') otherwise."""
    try:
        cc, asn = _db().lookup(ip)
    except (ImportError, OSError, ValueError):  # the data file missing or unreadable: no answer
        return "", ""
    if cc == "--":  # reserved, private or special-purpose (the data names IANA)
        return "", ""
    return ("" if cc in NO_COUNTRY else cc), asn


def country(ip: str) -> str:
    """ISO country where the address is located; '' for private, reserved or unknown."""
    return _hit(ip)[0]


def as_org(ip: str) -> str:
    """Organisation of the autonomous system announcing ``ip`` ('' if private or unknown)."""
    return _hit(ip)[1]


@lru_cache(maxsize=1 << 16)
def registry_country(ip: str) -> str:
    """ISO country the address block is delegated to (its registrant); '' for private, reserved or unknown."""
    try:
        return iptocc.country_code(ip) or ""  # no delegation for private or reserved blocks: None
    except ValueError:
        return ""
