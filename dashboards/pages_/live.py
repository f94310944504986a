"""The running capture session, if one answers on its control socket: its progress, and a form that
marks the start of a test phase (as `tapaudit mark` does). Marks go to the session, not the store:
the session stamps the packets that follow, exactly as a replay's phases file does."""

from __future__ import annotations

import time

import streamlit as st

from appliance.live.control import ControlError, default_path, request
from dashboards.i18n import t, value
from dashboards.pages_.common import lit
from policies.wording import PHASE_TEXT

PHASES = tuple(PHASE_TEXT)  # the phase names the rules know; the form takes a lab's own too
EVERY_S = 5  # the panel asks the session again this often, on its own (issue 18 point 4)


def render_panel() -> None:
    """Nothing when no session runs; the session's figures and the mark form when one does. The
    panel is a fragment that reruns by itself every ``EVERY_S`` seconds, the rest of the page
    untouched; a session started later shows up within that time too."""
    _panel()


@st.fragment(run_every=EVERY_S)
def _panel() -> None:
    path = default_path()
    try:
        status = request(path, {"op": "status"}, timeout=2.0)["session"]
    except ControlError:
        return
    st.subheader(t("live_session"))
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("packets"), f"{int(status['packets']):,}")
    c2.metric(t("n_flows"), f"{int(status['flows']):,}")
    c3.metric(t("dropped"), f"{int(status['dropped']) + int(status['if_dropped']):,}")
    c4.metric(t("phase"), value("phase", status.get("phase") or ""))
    every = t("live_every").format(s=EVERY_S)
    st.caption(f"{t('capture')}: {str(status['capture_id'])[:12]} · {t('lag')}: {status['lag_s']} s · "
               f"{t('spooled')}: {status['spool_pending']} · {every}")  # fmt: skip
    with st.form("mark_form", clear_on_submit=True):
        m1, m2, m3 = st.columns([2, 3, 2])
        phase = m1.selectbox(
            t("phase"),
            PHASES,
            index=PHASES.index("idle"),
            accept_new_options=True,
            key="mark_phase",
            placeholder=t("choose"),
            format_func=lambda p: value("phase", p) if p in PHASE_TEXT else str(p),
        )
        note = m2.text_input(t("note"), key="mark_note")
        device = m3.text_input(t("device_mac_optional"), key="mark_device")
        if st.form_submit_button(t("mark_now")):
            body = {"op": "mark", "phase": str(phase or "").strip(), "note": note, "device": device.strip()}
            try:
                reply = request(path, body)
            except ControlError as exc:
                st.warning(lit(exc))
            else:
                when = time.strftime("%H:%M:%S", time.gmtime(int(reply["ts_ns"]) / 1e9))
                st.success(f"{t('marked')} {lit(reply['phase'])} {when} UTC")
