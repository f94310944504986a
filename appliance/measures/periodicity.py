"""How regularly a device reports to a destination, from the times of its payload bursts alone.

Encrypted traffic hides what a device says, not when: a watch that reports its
location every 30 s sends a burst every 30 s whatever the cipher. Given the start
times of those bursts (``bursts`` table, one per exchange), this finds the period,
how much the beats wander from it (jitter), and how well a strict grid explains
them (score), while tolerating what real captures have: beats that never came
(a lost connection, a sleeping radio), extra beats (an answer split by a pause,
a user action), and a grid that shifts after a reconnect.

The method: candidate periods are the most common gaps (in bins 5 % wide); each
candidate is fitted by walking the beats against a grid anchored on the last beat
that fitted; a beat within ``TOLERANCE`` of a multiple of the period fits (the
multiples count missing beats), a beat too close to the anchor is extra, and two
beats off the old grid that fit each other re-anchor it. The score is the share of
gaps that fit times the share of expected beats seen; the best candidate wins.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

NS = 1_000_000_000
TOLERANCE = 0.1  # a beat fits when within 10 % of the period of a grid point
MIN_BEATS = 4  # fewer beats than this say nothing about a period
MIN_PERIOD_S = 1.0  # bursts are at least 1 s apart by construction (parsers.meter.BURST_GAP_NS)
RUN_BREAK = 3  # a continuous run ends at a gap of more than this many periods (as queries.RUN_BREAK)
CANDIDATES = 6


@dataclass(frozen=True)
class Period:
    period_s: float
    jitter_s: float  # how far a beat strays from the grid (RMS), from the gaps' spread over sqrt 2
    score: float  # 0..1: share of gaps on the grid x share of expected beats seen
    beats: int  # beats on the grid
    missing: int  # grid points without a beat
    extra: int  # beats off the grid
    longest_run_s: float  # longest stretch of on-grid beats without a gap of RUN_BREAK periods


@dataclass
class _Fit:
    gaps: list[tuple[float, int]]  # (gap s, periods it spans) for every gap that fits
    runs: list[float]
    extra: int


def periodicity(starts_ns: Sequence[int]) -> Period | None:
    """The period that best explains these beat times, or None with too few beats to tell."""
    ts = sorted({int(t) / NS for t in starts_ns})
    if len(ts) < MIN_BEATS:
        return None
    gaps = [b - a for a, b in itertools.pairwise(ts) if b - a >= MIN_PERIOD_S]
    if not gaps:
        return None
    best: Period | None = None
    for cand in _candidates(gaps):
        p = _evaluate(ts, cand)
        if p is not None and (best is None or p.score > best.score + 1e-9):
            best = p
    return best


def _candidates(gaps: list[float]) -> list[float]:
    """Medians of the most populated 5 %-wide bins of gaps (a bin with its two neighbours)."""
    width = math.log(1.05)
    bins = Counter(round(math.log(g) / width) for g in gaps)
    ranked = sorted(bins, key=lambda b: (-(bins[b] + bins.get(b - 1, 0) + bins.get(b + 1, 0)), b))
    out: list[float] = []
    for b in ranked[:CANDIDATES]:
        near = sorted(g for g in gaps if abs(round(math.log(g) / width) - b) <= 1)
        out.append(near[len(near) // 2])
    return out


def _fit(ts: list[float], period: float) -> _Fit:
    tol = TOLERANCE * period
    fitted: list[tuple[float, int]] = []
    runs: list[float] = []
    run_start = anchor = ts[0]
    stray: float | None = None  # the last beat off the grid: a new grid may start there
    extra = 0
    for t in ts[1:]:
        d = t - anchor
        k = round(d / period)
        if k >= 1 and abs(d - k * period) <= tol:
            if k > RUN_BREAK:
                runs.append(anchor - run_start)
                run_start = t
            fitted.append((d, k))
            anchor, stray = t, None
            continue
        if stray is not None:
            d2 = t - stray
            k2 = round(d2 / period)
            if k2 >= 1 and abs(d2 - k2 * period) <= tol:  # the grid moved (a reconnect): follow it
                runs.append(anchor - run_start)
                fitted.append((d2, k2))
                extra -= 1
                run_start, anchor, stray = stray, t, None
                continue
        extra += 1
        stray = t
    runs.append(anchor - run_start)
    return _Fit(fitted, runs, extra)


def _evaluate(ts: list[float], cand: float) -> Period | None:
    fit = _fit(ts, cand)
    if not fit.gaps:
        return None
    period = sum(d for d, _ in fit.gaps) / sum(k for _, k in fit.gaps)
    fit = _fit(ts, period)  # again on the refined period: the grid and its counts follow it
    if not fit.gaps:
        return None
    period = sum(d for d, _ in fit.gaps) / sum(k for _, k in fit.gaps)
    beats = len(fit.gaps)
    missing = sum(k - 1 for _, k in fit.gaps)
    # a gap's error is the difference of two beats' errors: its spread is sqrt 2 times theirs
    jitter = math.sqrt(sum((d - k * period) ** 2 for d, k in fit.gaps) / beats / 2)
    regular = beats / (beats + fit.extra)
    seen = beats / (beats + missing)
    return Period(
        period_s=round(period, 3),
        jitter_s=round(jitter, 3),
        score=round(regular * seen, 3),
        beats=beats + 1,
        missing=missing,
        extra=fit.extra,
        longest_run_s=round(max(fit.runs), 3),
    )
