"""tapaudit dashboard (Streamlit): `tapaudit dashboard [--db URL] [--port N] [--host H]` starts it.

Reads the store named by env TAPAUDIT_DB (a chDB folder or clickhouse://...) through the
storage read API only. When served beyond loopback (env TAPAUDIT_DASHBOARD_AUTH=1, set by the
command) it asks for the password of the settings file (see appliance/dashboard_access.py).
"""

from __future__ import annotations

import hmac
import os
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboards/app.py` puts only dashboards/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from appliance.dashboard_access import password  # noqa: E402
from dashboards import data  # noqa: E402
from dashboards.i18n import LANG_NAMES, LANGS, t  # noqa: E402
from dashboards.pages_ import (  # noqa: E402
    captures,
    compare,
    destinations,
    device,
    findings,
    flows,
    overview,
)

PAGES: dict[str, Callable[[str, data.Caps], None]] = {
    "overview": overview.render,
    "captures": captures.render,
    "device": device.render,
    "destinations": destinations.render,
    "findings": findings.render,
    "flows": flows.render,
    "compare": compare.render,
}


def _authorised() -> bool:
    if os.environ.get("TAPAUDIT_DASHBOARD_AUTH") != "1" or st.session_state.get("authorised"):
        return True
    secret = password()
    given = st.text_input(t("password"), type="password", key="password_input")
    if secret and given and hmac.compare_digest(given.encode(), secret.encode()):
        st.session_state["authorised"] = True
        return True
    if given:
        st.error(t("wrong_password"))
    return False


def main() -> None:
    st.set_page_config(page_title="tapaudit", layout="wide")
    st.sidebar.radio(t("language"), LANGS, format_func=lambda c: LANG_NAMES[c], key="lang", horizontal=True)
    st.title(t("app_title"))
    if not _authorised():
        st.stop()
    url = data.db_url()
    stored = data.captures(url)
    if not stored:  # nothing to show yet, but a capture can be uploaded
        st.info(t("no_data"))
        PAGES["captures"](url, ())
        return
    paths = {str(c["capture_id"]): os.path.basename(str(c["path"])) for c in stored}
    chosen = st.sidebar.multiselect(
        t("capture_filter"), list(paths), format_func=lambda c: f"{c[:12]} {paths[c]}", key="caps"
    )
    page = st.sidebar.radio(t("page"), list(PAGES), format_func=t, key="page")
    PAGES[page](url, tuple(sorted(chosen)))


main()
