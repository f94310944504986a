"""What a table a person reads must not show (issue 18, point 3), checked the same way on the CLI's
tables, the report and the dashboard: a raw byte count over 9999, a period with three decimals, a
flag as 0/1, or a 19-digit flow id (flows are named by time, device and destination).

The patterns are written from the issue's examples (``2642420``, ``1199.999 s``, ``0/1``), not
from ``appliance.format``'s output, so a surface that bypasses the formatter fails here."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

BYTES_OK = re.compile(r"^-?(\d{1,3} B|\d{1,3}\.\d (kB|MB|GB|TB))$")
THREE_DECIMAL_PERIOD = re.compile(r"\b\d+\.\d{3} ?(s|sec|seconds|秒)\b")
FLOW_ID = re.compile(r"(?<![\w])\d{19}(?![\w])")
# headers of columns holding bytes, periods and flags, on any of the three surfaces (en and zh)
BYTE_HEADERS = re.compile(r"^(Sent|Received|Up|Down|Bytes.*|Volume.*|发送|接收|上行.*|下行.*|字节.*|流量.*)$")
FLAG_HEADERS = re.compile(r"^(Truncated|Cross-border|Encrypted|On bench|Readable|截断|跨境|加密)$")


def problems(cells: Iterable[tuple[str, str]]) -> list[str]:
    """What is wrong with these (column header, cell text) pairs; empty when all read well."""
    bad = []
    for header, cell in cells:
        text = cell.strip()
        if not text or text == "-":
            continue
        if FLOW_ID.search(text):
            bad.append(f"{header}: a 19-digit id {text!r}")
        if THREE_DECIMAL_PERIOD.search(text):
            bad.append(f"{header}: a period with three decimals {text!r}")
        if BYTE_HEADERS.match(header.strip()):
            for part in re.split(r"\s*/\s*|\n", text):  # "1.2 kB/0 B": up and down in one cell
                if part and not BYTES_OK.match(part.strip()):
                    bad.append(f"{header}: not a readable byte count {part!r}")
        if FLAG_HEADERS.match(header.strip()) and text in ("0", "1", "True", "False"):
            bad.append(f"{header}: a flag as {text!r}")
    return bad


def text_problems(text: str) -> list[str]:
    """The same for free text (a report, a table's whole output): ids and three-decimal periods."""
    bad = [f"a 19-digit id {m.group(0)!r}" for m in FLOW_ID.finditer(text)]
    bad += [f"a period with three decimals {m.group(0)!r}" for m in THREE_DECIMAL_PERIOD.finditer(text)]
    return bad


def rich_cells(out: str) -> list[tuple[str, str]]:
    """The (header, cell) pairs of every rich table in a command's output, line by line (a folded
    cell gives one pair per line), cut at the header's column rules."""
    pairs: list[tuple[str, str]] = []
    headers: list[str] = []
    bounds: list[int] = []
    for line in out.splitlines():
        if line.lstrip().startswith("┃"):
            bounds = [i for i, ch in enumerate(line) if ch == "┃"]
            headers = [line[a + 1 : b].strip() for a, b in itertools.pairwise(bounds)]
        elif line.lstrip().startswith("│") and bounds:
            cells = [line[a + 1 : b] for a, b in itertools.pairwise(bounds)]
            pairs += [(h, c) for h, c in zip(headers, cells, strict=False) if c.strip()]
    return pairs


def markdown_cells(md: str) -> list[tuple[str, str]]:
    """The (header, cell) pairs of every Markdown table; ``<br>`` splits a cell into lines."""
    pairs: list[tuple[str, str]] = []
    headers: list[str] = []
    lines = md.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("|"):
            headers = []
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if i + 1 < len(lines) and re.match(r"^\|[-:| ]+\|$", lines[i + 1].strip()):
            headers = cells
        elif headers and not re.match(r"^\|[-:| ]+\|$", line.strip()):
            for h, c in zip(headers, cells, strict=False):
                pairs += [(h, part) for part in c.split("<br>")]
    return pairs


_UNITS = {"ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400}
_SI = {"B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


def seconds(text: str) -> float:
    """``"1.7 min"`` as 102.0: a shown duration back in seconds (to within its rounding)."""
    value, unit = text.split()
    return float(value) * _UNITS[unit]


def byte_count(text: str) -> float:
    """``"60.2 kB"`` as 60200.0: a shown size back in bytes (SI prefixes, to within its rounding)."""
    value, unit = text.split()
    return float(value) * _SI[unit]
