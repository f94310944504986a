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
location and operator: ~0.2 s and ~115 MiB RSS, on the first public address looked up, never
at import (measured on this file: ``tests/lab/test_geoip.py``). Data versions are recorded
with each capture (``geoip_version``).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import pickletools
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any, cast

import iptocc

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
    import geoip2fast

    return Path(geoip2fast.__file__).with_name(GEOIP_FILE)


def _file_digest() -> str:
    """sha256 prefix of the data file: names the data exactly without loading it."""
    try:
        return "sha256:" + hashlib.sha256(_path().read_bytes()).hexdigest()[:16]
    except (ImportError, OSError):
        return "data unavailable"


@lru_cache(maxsize=1)
def _data_release() -> str:
    """The file's own source line (``MAXMIND:GeoLite2-CountryASN-...-YYYYMMDD``), read from the head
    of its pickle stream without building the database (under a millisecond)."""
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
def _db() -> Any:
    """The geoip2fast database, loaded on first use only."""
    from geoip2fast import GeoIP2Fast

    with contextlib.redirect_stdout(io.StringIO()):  # it prints progress when loading
        return GeoIP2Fast(geoip2fast_data_file=GEOIP_FILE)


def loaded() -> bool:
    """Whether the database has been loaded in this process (for the laziness test)."""
    return _db.cache_info().currsize > 0


@lru_cache(maxsize=1 << 16)
def _hit(ip: str) -> tuple[str, str]:
    """(located country, AS organisation) of a public address; ('', '') otherwise."""
    try:
        hit = _db().lookup(ip)
    except Exception:  # the library raises its own errors for malformed addresses
        return "", ""
    cc = str(hit.country_code or "")
    if cc == "--":  # reserved, private or special-purpose (the data names IANA)
        return "", ""
    return ("" if cc in NO_COUNTRY else cc), str(getattr(hit, "asn_name", "") or "")


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
