"""Test phases: what the engineer was doing to the devices, and when.

A phases file marks the start of each phase (``boot``, ``setup``, ``consent``,
``idle``, ``feature_on``, ``feature_off``, ``background``, ``mute``, ``privacy_mode``,
``withdraw``, ``reset``, or a lab's own name); a phase lasts until the next mark.
CSV (``timestamp,phase,note``) or YAML (a list of ``{at, phase, note}``); timestamps
are ISO 8601 (UTC unless an offset is given) or seconds since the epoch. Every flow
and observation is stamped with the phase it began in, so measures split by phase.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from policies.yamlfile import parse_yaml

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
UNMARKED = "unmarked"  # before the first mark


class PhasesError(ValueError):
    """The phases file is unreadable or invalid (one line naming the file and the row)."""


@dataclass(frozen=True, slots=True)
class Mark:
    ts_ns: int
    phase: str
    note: str = ""
    device: str = ""  # a mark for one device (its MAC); '' for every device


@dataclass
class Phases:
    """Marks in time order; a device's phase is set by the latest mark for it or for every device."""

    marks: list[Mark] = field(default_factory=list)
    sha256: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        self._index()

    def _index(self) -> None:
        self.marks.sort(key=lambda m: m.ts_ns)
        self._by: dict[str, tuple[list[int], list[Mark]]] = {}
        for m in self.marks:
            starts, marks = self._by.setdefault(m.device, ([], []))
            starts.append(m.ts_ns)
            marks.append(m)

    def add(self, mark: Mark) -> None:
        """A mark made during a live session."""
        self.marks.append(mark)
        self._index()

    def _latest(self, scope: str, ts_ns: int) -> Mark | None:
        got = self._by.get(scope)
        if not got:
            return None
        i = bisect_right(got[0], ts_ns) - 1
        return got[1][i] if i >= 0 else None

    def at(self, ts_ns: int, device: str = "") -> str:
        """The phase a timestamp falls in (for ``device``, its own marks count too)."""
        if not self._by:  # no marks (a replay without a phases file): called per flow and record
            return UNMARKED
        m = self._latest("", ts_ns)
        if device and len(self._by) > 1:
            own = self._latest(device, ts_ns)
            if own is not None and (m is None or own.ts_ns >= m.ts_ns):
                m = own
        return m.phase if m is not None else UNMARKED

    def spans(self, end_ns: int) -> list[tuple[str, int, int, str, str]]:
        """(phase, start, end, note, device) of each mark; a mark lasts until the next one of its
        scope (every device, or its device), the last one until ``end_ns``."""
        out = []
        for scope, (_starts, marks) in sorted(self._by.items()):
            for i, m in enumerate(marks):
                stop = marks[i + 1].ts_ns if i + 1 < len(marks) else max(end_ns, m.ts_ns)
                out.append((m.phase, m.ts_ns, stop, m.note, scope))
        return sorted(out, key=lambda s: (s[1], s[4]))


def parse_time(text: Any) -> int:
    """ns since the epoch from ISO 8601 (naive = UTC) or a number of seconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return round(float(text) * 1e9)
    if isinstance(text, dt.datetime):
        when = text
    else:
        s = str(text).strip()
        try:
            return round(float(s) * 1e9)
        except ValueError:
            pass
        try:
            when = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise PhasesError(f"not a time: {s!r} (ISO 8601 or epoch seconds)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return round(when.timestamp() * 1e9)


def load_phases(path: str) -> Phases:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise PhasesError(f"phases file {path}: {exc.strerror or exc}") from None
    text = raw.decode("utf-8", "replace")
    try:
        rows = _yaml_rows(text) if path.endswith((".yaml", ".yml")) else _csv_rows(text)
    except PhasesError as exc:
        raise PhasesError(f"phases file {path}: {exc}") from None
    marks = []
    for i, (at, phase, note) in enumerate(rows, 1):
        name = str(phase).strip()
        if not NAME.match(name):
            raise PhasesError(f"phases file {path}: row {i}: phase {name!r} is not a lower-case name")
        try:
            marks.append(Mark(parse_time(at), name, str(note or "")))
        except PhasesError as exc:
            raise PhasesError(f"phases file {path}: row {i}: {exc}") from None
    if not marks:
        raise PhasesError(f"phases file {path}: no phases")
    return Phases(marks, hashlib.sha256(raw).hexdigest(), path)


def _csv_rows(text: str) -> list[tuple[Any, Any, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"timestamp", "phase"} <= {f.strip() for f in reader.fieldnames}:
        raise PhasesError("a CSV needs the columns timestamp,phase[,note]")
    return [(r["timestamp"], r["phase"], r.get("note") or "") for r in reader]


def _yaml_rows(text: str) -> list[tuple[Any, Any, Any]]:
    doc = parse_yaml(text, "", PhasesError)
    items = doc.get("phases") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise PhasesError("YAML must be a list of {at, phase, note}")
    try:
        return [(x["at"], x["phase"], x.get("note", "")) for x in items]
    except KeyError as exc:
        raise PhasesError(f"an entry lacks {exc}") from None
