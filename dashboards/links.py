"""Views as addresses (issue 18 point 4): what a page shows lives in the URL's query parameters, so a
view can be shared, bookmarked and opened again, and tables link rows to other views.

``?page=device&device=<mac>&capture=<sha256>&lang=zh`` opens the child watch's device page in
Chinese on one capture. The parameters are read once, when a session starts (``restore``: the
browser opened or reloaded an address), into the widgets' session state; after every run the
address is rewritten from that state (``publish``), so changing a filter changes the URL.

``PARAMS`` names, per page, which widget each parameter fills (the widget keys of the pages); the
common ones (language, page, captures) hold on every page.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

import streamlit as st

READ = "_url_read"  # session flag: the address was read into the widgets
LIST, TEXT, INT = "list", "text", "int"

COMMON: dict[str, tuple[str, str]] = {
    "lang": ("lang", TEXT),
    "page": ("page", TEXT),
    "capture": ("caps", LIST),
}
PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    "device": {"device": ("device_pick", TEXT)},
    "findings": {
        "device": ("f_dev", LIST),
        "severity": ("f_sev", LIST),
        "rule": ("f_rule", LIST),
        "pack": ("f_pack", LIST),
    },
    "flows": {"device": ("flows_device", TEXT), "dest": ("flows_dest", TEXT), "n": ("flows_page", INT)},
    "compare": {"a": ("cmp_a", TEXT), "b": ("cmp_b", TEXT), "device": ("cmp_dev", TEXT)},
}
OPEN_FINDING = "finding"  # a finding's id: its card opens (not a widget; read where the cards are)


def _read(kind: str, values: list[str]) -> Any:
    if kind == LIST:
        return [v for v in values if v]
    if kind == INT:
        try:
            return max(1, int(values[-1]))
        except ValueError:
            return None
    return values[-1]


def restore(pages: Iterable[str]) -> None:
    """Once per session: the address's parameters into the widgets' state (before any widget is
    drawn). A page not known, or a parameter without value, is left out."""
    if st.session_state.get(READ):
        return
    st.session_state[READ] = True
    page = st.query_params.get("page")
    if page is not None and page not in pages:
        st.query_params.pop("page")
    wanted = {**COMMON, **PARAMS.get(str(st.query_params.get("page") or ""), {})}
    for name, (key, kind) in wanted.items():
        got = st.query_params.get_all(name)
        if not got:
            continue
        value = _read(kind, got)
        if value is not None and value != "":
            st.session_state[key] = value


def _state(key: str, kind: str) -> list[str]:
    value = st.session_state.get(key)
    if value is None or value == "" or value == []:
        return []
    return [str(v) for v in value] if kind == LIST else [str(value)]


def current(page: str) -> dict[str, list[str]]:
    """The parameters that describe what ``page`` shows now (from the widgets' state)."""
    out: dict[str, list[str]] = {}
    for name, (key, kind) in {**COMMON, **PARAMS.get(page, {})}.items():
        got = _state(key, kind)
        if got:
            out[name] = got
    out["page"] = [page]
    opened = st.query_params.get_all(OPEN_FINDING)
    if page == "findings" and opened:
        out[OPEN_FINDING] = opened
    return out


def publish(page: str) -> None:
    """Rewrite the address from the page's state (no rerun: Streamlit only replaces the URL)."""
    wanted = current(page)
    if {k: st.query_params.get_all(k) for k in st.query_params} != wanted:
        st.query_params.from_dict(wanted)


def href(page: str, **params: str | Iterable[str] | None) -> str:
    """The address of a view: ``page`` with ``params`` (a list repeats its parameter), in the
    current language and capture selection (unless ``capture`` is given). Relative (``?page=...``):
    it opens on this server."""
    query: list[tuple[str, str]] = [("page", page), ("lang", str(st.session_state.get("lang", "en")))]
    if "capture" not in params:
        query += [("capture", str(c)) for c in st.session_state.get("caps") or []]
    for name, value in params.items():
        if value is None or value == "":
            continue
        for v in [value] if isinstance(value, str) else value:
            query.append((name, str(v)))
    return "?" + urlencode(query, safe=":")


def opened_finding() -> str:
    """The finding whose card the address asks to open ("" for none)."""
    return str(st.query_params.get(OPEN_FINDING) or "")


def link_column(label: str, shows: str) -> Any:
    """A table column of view addresses, each shown as the value of its parameter ``shows``
    (Streamlit's display_text takes the regex's first group)."""
    return st.column_config.LinkColumn(label, display_text=rf"[?&]{shows}=([^&#]*)")
