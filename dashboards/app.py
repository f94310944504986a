"""tapaudit dashboard (Streamlit): `tapaudit dashboard [--db URL] [--port N] [--host H]` starts it.

Reads the store named by env TAPAUDIT_DB (a chDB folder or clickhouse://...) through the
storage read API only. When served beyond loopback (env TAPAUDIT_DASHBOARD_AUTH=1, set by the
command) it asks for the password of the settings file (see appliance/dashboard_access.py).
"""

from __future__ import annotations

import hmac
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboards/app.py` puts only dashboards/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from appliance.dashboard_access import (  # noqa: E402
    MIN_PASSWORD,
    THROTTLE,
    SettingsError,
    password,
    password_problem,
)
from dashboards import data, links  # noqa: E402
from dashboards.i18n import LANG_NAMES, LANGS, lang, t  # noqa: E402
from dashboards.pages_ import (  # noqa: E402
    captures,
    compare,
    destinations,
    device,
    findings,
    flows,
    overview,
)
from dashboards.pages_.common import lit  # noqa: E402

PAGES: dict[str, Callable[[str, data.Caps], None]] = {
    "overview": overview.render,
    "captures": captures.render,
    "device": device.render,
    "destinations": destinations.render,
    "findings": findings.render,
    "flows": flows.render,
    "compare": compare.render,
}


def _client() -> str:
    """The address the browser connects from (the throttle's key); one key for all when unknown."""
    try:
        ip = st.context.ip_address
    except AttributeError:  # no request context
        return "?"
    return ip if isinstance(ip, str) and ip else "?"  # AppTest gives a stand-in object


def _authorised() -> bool:
    """The password of the settings file, when served beyond loopback. Each password typed is checked
    once (a rerun does not count it again); failures are throttled per client and over all clients
    (``appliance.dashboard_access.THROTTLE``): a try before its time is refused unchecked."""
    if os.environ.get("TAPAUDIT_DASHBOARD_AUTH") != "1" or st.session_state.get("authorised"):
        return True
    try:
        secret = password()
    except SettingsError as exc:
        st.error(lit(exc))
        return False
    if password_problem(secret):  # the command refuses this before serving; a changed file is caught here
        st.error(t("password_unusable").format(n=MIN_PASSWORD))
        return False
    given = st.text_input(t("password"), type="password", key="password_input")
    if not given:
        return False
    if given == st.session_state.get("password_checked"):  # found wrong already: not counted again
        st.error(t("wrong_password"))
        return False
    client = _client()
    wait = THROTTLE.wait(client)
    if wait > 0:  # not checked (nor counted): the right password too must wait its turn
        st.error(t("throttled").format(s=math.ceil(wait)))
        return False
    if hmac.compare_digest(given.encode(), secret.encode()):
        THROTTLE.succeeded(client)
        st.session_state["authorised"] = True
        return True
    THROTTLE.failed(client)
    st.session_state["password_checked"] = given
    st.error(t("wrong_password"))
    return False


def main() -> None:
    st.set_page_config(page_title="tapaudit", layout="wide")
    links.restore(PAGES)  # a shared address: its view, before any widget is drawn
    if st.session_state.get("lang") not in LANGS:
        st.session_state.pop("lang", None)
    st.sidebar.radio(t("language"), LANGS, format_func=lambda c: LANG_NAMES[c], key="lang", horizontal=True)
    _widget_words()
    st.title(t("app_title"))
    if not _authorised():
        st.stop()
    try:
        _page(data.db_url())
    except data.StoreBusy as busy:  # another session's ingest or delete holds the store
        st.warning(t("store_busy").format(what=busy.what, s=round(time.time() - busy.since)))  # names in lit


def _widget_words() -> None:
    """Streamlit's file uploader writes "Upload" and "200MB per file" in English whatever the page's
    language, and has no parameter for them: in Chinese, a style sheet hides them (not shown,
    and not in the page's text) and writes the Chinese in their place."""
    if lang() != "zh":
        return
    button, limit = t("uploader_button"), t("uploader_limit")
    st.html(
        "<style>"
        "[data-testid=stFileUploaderDropzone] button [data-testid=stMarkdownContainer] p,"
        "[data-testid=stFileUploaderDropzoneInstructions] span {visibility: hidden; position: relative;"
        " display: inline-block; min-width: 11em;}"
        "[data-testid=stFileUploaderDropzone] button [data-testid=stMarkdownContainer] p::after"
        f'{{content: "{button}"; visibility: visible; position: absolute; left: 0; white-space: nowrap;}}'
        "[data-testid=stFileUploaderDropzoneInstructions] span::after"
        f'{{content: "{limit}"; visibility: visible; position: absolute; left: 0; white-space: nowrap;}}'
        "</style>"
    )


def _page(url: str) -> None:
    stored = data.captures(url)
    if not stored:  # nothing to show yet, but a capture can be uploaded
        st.info(t("no_data"))
        PAGES["captures"](url, ())
        return
    paths = {str(c["capture_id"]): os.path.basename(str(c["path"])) for c in stored}
    _drop_gone(paths)
    chosen = st.sidebar.multiselect(
        t("capture_filter"),
        list(paths),
        format_func=lambda c: f"{c[:12]} {paths[c]}",
        key="caps",
        placeholder=t("choose"),
    )
    page = st.sidebar.radio(t("page"), list(PAGES), format_func=t, key="page")
    PAGES[page](url, tuple(sorted(chosen)))
    links.publish(page)


def _drop_gone(stored: dict[str, str]) -> None:
    """The capture filter keeps only stored captures: one deleted (here or by another session) or
    named by an old address leaves the selection, which the sidebar says, instead of staying
    selected and emptying every page."""
    chosen = [str(c) for c in st.session_state.get("caps") or []]
    kept = [c for c in chosen if c in stored]
    if kept != chosen:
        st.session_state["caps"] = kept
        gone = ", ".join(c[:12] for c in chosen if c not in stored)
        st.sidebar.caption(t("capture_gone").format(ids=lit(gone)))


main()
