"""How numbers, times and names read for a person, one way everywhere: the CLI's tables, the report
and the dashboard (issue 18, point 3: readable numbers on every surface).

- bytes in SI units (kB = 1000 bytes, IEC 80000-13), so ``2642420`` reads ``2.6 MB``;
- durations and periods rounded to what a person compares (``1199.999 s`` reads ``20 min``);
- yes/no (是/否) for a flag, never ``0``/``1``;
- times in the laboratory's time zone (TR-xx figures are measured in UTC; the lab reads its own
  clock): env TAPAUDIT_TZ, else the ``timezone`` of the lab settings file
  (``appliance/report/lab.py``, which calls ``use_zone``), else UTC; the UTC time stays one call
  away (``fmt_ts_utc``) for the dashboard's hover and the report's method paragraph;
- a MAC with its IEEE registrant's short name, a hash shortened with the full one kept by the caller.

Nothing here imports more than the standard library at import time: every CLI command's start-up
imports this module (issue 18, point 6).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from functools import lru_cache

ENV_TZ = "TAPAUDIT_TZ"
UTC = "UTC"
_lab_zone: str = ""  # the lab settings file's timezone, when one was read (``use_zone``)
_lab_read = False  # whether a lab settings file was looked for in this process


class ZoneError(ValueError):
    """A time zone name that is not in the IANA database: one line for the user."""


@lru_cache(maxsize=64)
def _zoneinfo(name: str) -> dt.tzinfo:
    if name.upper() == UTC:
        return dt.UTC
    # imported here: zoneinfo loads sysconfig to find the zone files, 4 ms of every command's start
    # (issue 20, point 3) that UTC, the default, never needs
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ZoneError(
            f"time zone {name!r} is not an IANA zone name (such as Asia/Shanghai, Europe/Berlin or UTC)"
        ) from None


def check_zone(name: str) -> str:
    """``name`` if it is an IANA zone name, else ZoneError (a lab file or TAPAUDIT_TZ is refused
    in one line before anything is printed in a zone nobody meant)."""
    _zoneinfo(name.strip())
    return name.strip()


def use_zone(name: str) -> None:
    """The lab settings file's zone (``""``: none); TAPAUDIT_TZ still wins."""
    global _lab_zone, _lab_read
    _lab_zone = check_zone(name) if name.strip() else ""
    _lab_read = True


def lab_zone_read() -> bool:
    """Whether the lab settings were read (``use_zone``) in this process: the CLI reads the
    default file once before printing a time, the report's ``--lab`` before that."""
    return _lab_read


def zone_name() -> str:
    """The zone times are shown in: TAPAUDIT_TZ, else the lab file's, else UTC."""
    env = os.environ.get(ENV_TZ, "").strip()
    if env:
        return check_zone(env)
    return _lab_zone or UTC


def zone() -> dt.tzinfo:
    return _zoneinfo(zone_name())


def _when(ns: int, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(ns) / 1e9, tz)


def fmt_ts(ns: int | None) -> str:
    """A time (nanoseconds since the epoch) in the lab's zone to the second; ``-`` for none."""
    if not ns:
        return "-"
    return _when(int(ns), zone()).strftime("%Y-%m-%d %H:%M:%S")


def fmt_ts_utc(ns: int | None) -> str:
    """The same time in UTC, said so: what the dashboard shows on hover."""
    if not ns:
        return "-"
    return _when(int(ns), dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_offset(ns: int) -> str:
    """The lab zone's offset at that time, ``UTC+08:00`` (``UTC`` in UTC): changes at DST."""
    off = _when(int(ns), zone()).utcoffset() or dt.timedelta(0)
    if not off:
        return UTC
    sign, mins = ("+" if off >= dt.timedelta(0) else "-"), abs(int(off.total_seconds())) // 60
    return f"UTC{sign}{mins // 60:02d}:{mins % 60:02d}"


def zone_note(times_ns: Iterable[int] = ()) -> str:
    """What a time column's header or help says: the zone and its offsets at the times shown."""
    name = zone_name()
    if name == UTC:
        return UTC
    offsets = sorted({utc_offset(ns) for ns in times_ns if ns})
    return f"{name}, {' / '.join(offsets)}" if offsets else name


def time_col(label: str) -> str:
    """A time column's header: ``First (UTC)``, ``First (Asia/Shanghai)``."""
    return f"{label} ({zone_name()})"


def fmt_bytes(n: int | float | None) -> str:
    """Bytes in SI units: ``999 B``, ``1.0 kB``, ``2.6 MB`` (one decimal from kB up)."""
    if n is None:
        return "-"
    size = float(n)
    sign = "-" if size < 0 else ""
    size = abs(size)
    if size < 1000:
        return f"{sign}{size:.0f} B"
    for unit in ("kB", "MB", "GB", "TB"):
        size /= 1000
        if round(size, 1) < 1000 or unit == "TB":
            return f"{sign}{size:.1f} {unit}"
    return str(n)  # not reached


def _short(x: float) -> str:
    """One decimal below ten, none above; ``2.0`` reads ``2``."""
    r = round(x, 1) if x < 9.95 else float(round(x))
    return f"{r:.0f}" if r == int(r) else f"{r:.1f}"


def fmt_duration(s: float | None) -> str:
    """A duration or a period rounded to what a person compares: ``0.2 s`` under ten seconds,
    ``45 s``, then ``2.5 min``, ``20 min`` (``1199.999 s``), ``1.5 h``, ``3 d``; ``-`` for none."""
    if s is None or s < 0:
        return "-"
    if s == 0:
        return "0 s"
    if s < 0.9995:
        ms = s * 1000
        return f"{_short(ms)} ms" if ms >= 0.05 else "<0.1 ms"
    if round(s) < 90:
        return f"{_short(s)} s"
    if round(s / 60) < 90:
        return f"{_short(s / 60)} min"
    if round(s / 3600) < 48:
        return f"{_short(s / 3600)} h"
    return f"{_short(s / 86400)} d"


def fmt_secs(s: float | None) -> str:
    """A period where 0 means none (no period found): ``-``, else ``fmt_duration``."""
    return "-" if not s or s <= 0 else fmt_duration(float(s))


_YES = {"en": ("yes", "no"), "zh": ("是", "否")}


def fmt_bool(value: object, lang: str = "en") -> str:
    """A flag as yes/no (是/否): from a bool, 0/1 as ClickHouse's UInt8 gives it, or its text."""
    yes, no = _YES.get(lang, _YES["en"])
    if isinstance(value, str):
        value = value.strip().lower() not in ("", "0", "false", "no", "n")
    return yes if value else no


def fmt_count(n: int | float | None) -> str:
    """A count with thousands separators: ``8,150``."""
    return "-" if n is None else f"{int(n):,}"


def fmt_num(x: float | None) -> str:
    """A measured quantity (a rate, a ratio) to two significant decimals at most: ``30.0167``
    reads ``30``, ``2.456`` ``2.5``, ``0.0123`` ``0.012``; thousands separated."""
    if x is None:
        return "-"
    v = float(x)
    if abs(v) >= 100:
        return f"{round(v):,}"
    if abs(v) >= 10:
        return ("-" if v < 0 else "") + _short(abs(v))
    return f"{v:.2g}" if v else "0"


def fmt_hash(h: str | None, n: int = 12, mark: str = "…") -> str:
    """A hash or capture id shortened to ``n`` characters and ``mark`` (the full one is the
    caller's to keep: --json, a copyable cell, the report's evidence table). The CLI passes
    ``mark=""``: what it prints is a prefix its commands take back."""
    text = str(h or "")
    return text if len(text) <= n + len(mark) else text[:n] + mark


# Words of a registrant's name that say what kind of company it is, not which (IEEE lists
# "HUAWEI TECHNOLOGIES CO.,LTD", "BBK EDUCATIONAL ELECTRONICS CORP.,LTD."): cut from the end.
_SUFFIXES = frozenset(
    [
        "co",
        "co.",
        "corp",
        "corp.",
        "corporation",
        "inc",
        "inc.",
        "incorporated",
        "ltd",
        "ltd.",
        "limited",
        "llc",
        "gmbh",
        "ag",
        "sa",
        "s.a.",
        "bv",
        "b.v.",
        "plc",
        "oy",
        "ab",
        "kg",
        "pte",
        "pty",
        "technologies",
        "technology",
        "tech",
        "electronics",
        "electronic",
        "company",
        "communications",
        "communication",
        "international",
        "holdings",
        "group",
    ]
)


@lru_cache(maxsize=1024)
def short_vendor(org: str) -> str:
    """A registrant's name as people say it: ``HUAWEI TECHNOLOGIES CO.,LTD`` reads ``Huawei``,
    ``BBK EDUCATIONAL ELECTRONICS CORP.,LTD.`` ``BBK Educational``; a name in mixed case keeps it."""
    name = org.split(",")[0].strip()
    words = name.split()
    while len(words) > 1 and words[-1].lower().strip("()") in _SUFFIXES:
        words.pop()
    if name.isupper():  # IEEE's capitals: acronyms of up to 3 letters stay, words are capitalised
        words = [w if len(w) <= 3 else w.capitalize() for w in words]
    return " ".join(words) or org.strip()


_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", re.I)


def mac_vendor(mac: str) -> str:
    """The short name of a MAC's IEEE registrant (``appliance.lookups.oui``), '' when unregistered."""
    if not _MAC.match(mac or ""):
        return ""
    from appliance.lookups.oui import vendor  # netaddr's registry: only when a MAC is shown

    org = vendor(mac)
    if not org:
        return ""
    return "random" if org.startswith("(locally") else short_vendor(org)


def fmt_mac(mac: str | None, vendor: str = "") -> str:
    """A MAC with its vendor: ``e0:06:30:5a:11:21 (Huawei)``; the vendor given (the inventory's,
    from DHCP or the bench file) wins over the OUI registry's."""
    text = str(mac or "")
    who = vendor.strip() or mac_vendor(text)
    return f"{text} ({who})" if who and text else (text or "-")
