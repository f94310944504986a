"""Thin cached wrappers around the storage read API (``appliance.store.queries``) for the dashboard.

No SQL here: every figure comes from ``appliance.store.queries`` (parameterised, aggregated in
ClickHouse). Results are cached per database URL and capture selection (``st.cache_data``);
the store is opened once per process (``st.cache_resource``): chDB allows one data path per
process, and a server connection is worth keeping. A lock serialises queries on the shared store.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from appliance.measures import shapes
from appliance.report import data as report_data
from appliance.store import queries
from appliance.store.backends import DEFAULT_DB, Store, open_store
from appliance.store.queries.findings import confirmations as confirmation_rows
from dashboards import downloads

Rows = list[dict[str, Any]]
Caps = tuple[str, ...]
T = TypeVar("T")
TTL = 300  # seconds: a replay or assessment run meanwhile shows up within five minutes

_LOCK = threading.Lock()
_BUSY: dict[str, Any] = {}  # the exclusive job holding the store (an ingest, a delete): what, since
POLL_S = 0.2  # a reader looks this often whether the store is free, or held by a long job


class StoreBusy(Exception):
    """The store is held by an ingest or a delete of another session: said at once (issue 17: one
    upload held the store's lock for 110 s and blocked another session's page for 97 s)."""

    def __init__(self, what: str, since: float) -> None:
        super().__init__(what)
        self.what = what
        self.since = since


def db_url() -> str:
    """The store the dashboard reads: env TAPAUDIT_DB (set by `tapaudit dashboard --db`), else ./data."""
    return os.environ.get("TAPAUDIT_DB") or DEFAULT_DB


@st.cache_resource(show_spinner=False)
def _store(url: str) -> Store:
    store = open_store(url)
    store.ensure_schema()
    _live.append(store)
    return store


_live: list[Store] = []  # every store this process opened, closed before the interpreter goes


@atexit.register
def _close_at_exit() -> None:
    """Close the stores still open when the process ends. chDB's engine left open while Python
    tears down crashes the process (SIGSEGV) about one exit in three: the dashboard would end with
    a crash instead of its exit status."""
    while _live:
        with contextlib.suppress(Exception):  # best effort at exit: the data is committed
            _live.pop().close()


def _run(url: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(store, ...)`` under the store's lock. Queries wait for each other, but not for a long
    job (``exclusive``): while one holds the store, StoreBusy is raised within ``POLL_S``."""
    while not _LOCK.acquire(timeout=POLL_S):
        job = dict(_BUSY)
        if job:
            raise StoreBusy(str(job["what"]), float(job["since"]))
    try:
        return fn(_store(url), *args, **kwargs)
    finally:
        _LOCK.release()


def exclusive(url: str, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A long job on the store (an ingest, a delete): ``fn(store, ...)`` under the lock, the other
    sessions told at once that the store is busy with ``what`` instead of waiting for it. chDB opens
    a data folder in one process only, so the job cannot run beside the readers."""
    with _LOCK:
        _BUSY.update(what=what, since=time.time())
        try:
            return fn(_store(url), *args, **kwargs)
        finally:
            _BUSY.clear()


def close() -> None:
    """Close the process's store and forget every cached result (tests; a changed TAPAUDIT_DB)."""
    st.cache_data.clear()
    _opened.clear()
    _store.clear()
    _close_at_exit()


_opened: set[str] = set()


def refresh() -> None:
    """Forget every cached result (after an ingest or a delete); the store stays open."""
    st.cache_data.clear()


def _caps(caps: Caps) -> list[str] | None:
    return list(caps) or None


@st.cache_data(ttl=TTL, show_spinner=False)
def captures(url: str) -> Rows:
    _opened.add(url)
    return _run(url, queries.captures)


@st.cache_data(ttl=TTL, show_spinner=False)
def devices(url: str, caps: Caps) -> Rows:
    _opened.add(url)
    return _run(url, queries.devices, _caps(caps))


@st.cache_data(ttl=TTL, show_spinner=False)
def destinations(url: str, caps: Caps, device: str | None = None) -> Rows:
    _opened.add(url)
    return _run(url, queries.destinations, _caps(caps), device)


@st.cache_data(ttl=TTL, show_spinner=False)
def device_overview(url: str, caps: Caps) -> Rows:
    _opened.add(url)
    return _run(url, queries.device_overview, _caps(caps))


@st.cache_data(ttl=TTL, show_spinner=False)
def data_types(url: str, caps: Caps, device: str | None = None) -> Rows:
    _opened.add(url)
    return _run(url, queries.data_types, _caps(caps), device)


@st.cache_data(ttl=TTL, show_spinner=False)
def findings(url: str, caps: Caps, device: str | None = None) -> Rows:
    """Current findings, their excerpts masked (by the read API, raw-evidence captures too)."""
    _opened.add(url)
    return _run(url, queries.findings, _caps(caps), device)


@st.cache_data(ttl=TTL, show_spinner=False)
def problems(url: str, caps: Caps, device: str | None = None) -> Rows:
    """Current findings grouped by device and fact (issue 18): one row per problem, with every pack
    and clause that rules on it; excerpts masked."""
    _opened.add(url)
    return _run(url, queries.problems, _caps(caps), device)


@st.cache_data(ttl=TTL, show_spinner=False)
def confirmations(url: str, caps: Caps) -> dict[str, dict[str, Any]]:
    """Wireshark's newest check of each current finding (issue 22), by finding id; masked when
    written. A finding without one was never checked."""
    _opened.add(url)
    return {str(r["finding_id"]): r for r in _run(url, confirmation_rows, _caps(caps))}


@st.cache_data(ttl=TTL, show_spinner=False)
def requirements(url: str, caps: Caps, device: str) -> Rows:
    """The device's verdict per requirement, as its report gives them (``policies.verdicts``)."""
    _opened.add(url)
    return _run(url, report_data.requirements_of, device, _caps(caps))


@st.cache_data(ttl=TTL, show_spinner=False)
def flows(
    url: str,
    caps: Caps,
    device: str | None,
    limit: int,
    offset: int,
    flt: queries.FlowFilter | None = None,
) -> Rows:
    _opened.add(url)
    counts = flow_counts(url, caps, device, flt)  # cached: a new page does not count again
    return _run(url, queries.flows, _caps(caps), device, limit, offset, flt, counts)


@st.cache_data(ttl=TTL, show_spinner=False)
def observation_series(url: str, caps: Caps, device: str) -> Rows:
    _opened.add(url)
    return _run(url, queries.observation_series, _caps(caps), device)


@st.cache_data(ttl=TTL, show_spinner=False)
def measures(url: str, caps: Caps, device: str) -> Rows:
    _opened.add(url)
    return _run(url, queries.measures, _caps(caps), device)


@st.cache_data(ttl=TTL, show_spinner=False)
def periods(url: str, caps: Caps, device: str) -> Rows:
    _opened.add(url)
    return _run(url, shapes.periods, _caps(caps), device)


@st.cache_data(ttl=TTL, show_spinner=False)
def tls_coverage(url: str, caps: Caps, device: str) -> Rows:
    _opened.add(url)
    return _run(url, queries.tls_coverage, _caps(caps), device)


@st.cache_data(ttl=TTL, show_spinner=False)
def uploads(url: str, caps: Caps, device: str) -> Rows:
    _opened.add(url)
    return _run(url, shapes.uploads, _caps(caps), device)


@st.cache_data(ttl=TTL, show_spinner=False)
def phase_spans(url: str, capture_id: str, device: str | None = None) -> Rows:
    _opened.add(url)
    return _run(url, queries.phase_spans, capture_id, device)


@st.cache_data(ttl=TTL, show_spinner=False)
def recipient_links(url: str, caps: Caps, device: str) -> Rows:
    """Observations per data type x organisation x country x party x carriage (the Sankey)."""
    _opened.add(url)
    return _run(url, queries.recipient_links, _caps(caps), device)


@st.cache_data(ttl=TTL, show_spinner=False)
def destination_countries(url: str, caps: Caps, device: str) -> Rows:
    _opened.add(url)
    return _run(url, queries.destination_countries, _caps(caps), device)


@st.cache_data(ttl=TTL, show_spinner=False)
def home_countries(url: str, caps: Caps) -> list[str]:
    _opened.add(url)
    return _run(url, queries.home_countries, _caps(caps))


@st.cache_data(ttl=TTL, show_spinner=False)
def location_precision(url: str, caps: Caps, device: str) -> Rows:
    _opened.add(url)
    return _run(url, queries.location_precision, _caps(caps), device)


@st.cache_data(ttl=TTL, show_spinner=False)
def flow_counts(
    url: str, caps: Caps, device: str | None = None, flt: queries.FlowFilter | None = None
) -> Rows:
    _opened.add(url)
    return _run(url, queries.flow_counts, _caps(caps), device, flt)


def flow_count(url: str, caps: Caps, device: str | None = None, flt: queries.FlowFilter | None = None) -> int:
    return sum(int(c["n"]) for c in flow_counts(url, caps, device, flt))


def evidence(url: str, finding_id: str) -> downloads.Download:
    """A finding's evidence capture, built now (not cached: each export is recorded); raises
    downloads.DownloadError."""
    _opened.add(url)
    return _run(url, downloads.evidence_pcap, finding_id)


def report(url: str, mac: str, capture_id: str | None = None) -> downloads.Download:
    """A device's masked HTML lab report, built now; raises downloads.DownloadError."""
    _opened.add(url)
    return _run(url, downloads.report_html, mac, capture_id)
