"""Captures: every stored capture with its sha256, time span, devices and status; add captures
(upload, replay with a progress bar, assess) and delete one.

No SQL here: ingesting and deleting go through ``dashboards.uploads`` on the store the dashboard
opened (``data._run``: chDB allows one data path per process, and the lock serialises access).
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from appliance.lab.bench import BenchError
from appliance.lab.phases import PhasesError
from appliance.store.backends import StoreError
from dashboards import data
from dashboards import uploads as manage
from dashboards.i18n import t
from dashboards.pages_ import live
from dashboards.pages_.common import lit, show, table, ts
from parsers.capture import CaptureError
from policies.declaration import DeclarationError

FAILURES = (CaptureError, BenchError, PhasesError, DeclarationError, StoreError, OSError, ValueError)


def _status(c: dict) -> str:
    if c.get("status") == "live":
        return "live"
    if c["read_error"]:
        return f"read error: {c['read_error']}"
    return "truncated" if int(c["truncated"]) else "complete"


class _Bar:
    """``appliance.ingest.replay.Progress`` on an ``st.progress`` bar: bytes read of the total, packets."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.name = ""
        self.total: int | None = None

    def start(self, label: str, total_bytes: int | None) -> None:
        self.name = os.path.basename(label.rstrip("/")) or label
        self.total = total_bytes
        self.bar = st.progress(0.0, text=self.name)

    def update(self, done_bytes: int, packets: int) -> None:
        if self.bar is None:
            return
        frac = min(done_bytes / self.total, 1.0) if self.total else 0.0
        self.bar.progress(frac, text=f"{self.name}: {packets:,} {t('packets').lower()}")


def _upload(url: str) -> None:
    st.subheader(t("upload_title"))
    caps = st.file_uploader(t("upload_captures"), accept_multiple_files=True, key="up_caps")
    c1, c2, c3 = st.columns(3)
    bench = c1.file_uploader(t("upload_bench"), type=["yaml", "yml"], key="up_bench")
    phases = c2.file_uploader(t("upload_phases"), type=["csv", "yaml", "yml"], key="up_phases")
    decls = c3.file_uploader(t("upload_decls"), type=["yaml", "yml"], accept_multiple_files=True,
                             key="up_decls")  # fmt: skip
    keylogs = st.file_uploader(t("upload_keylogs"), accept_multiple_files=True, key="up_keys",
                               help=t("upload_keylogs_help"))  # fmt: skip
    if not st.button(t("ingest"), key="up_go"):
        return
    if not caps:
        st.warning(t("no_capture_chosen"))
        return
    folder = manage.uploads_dir(url)
    try:
        paths = [manage.save_upload(folder, f.name, f.getvalue(), capture=True) for f in caps]
        bench_path = manage.save_upload(folder, bench.name, bench.getvalue()) if bench else None
        phases_path = manage.save_upload(folder, phases.name, phases.getvalue()) if phases else None
        decl_paths = [manage.save_upload(folder, d.name, d.getvalue()) for d in decls or []]
        key_paths = [manage.save_upload(folder, k.name, k.getvalue(), secret=True) for k in keylogs or []]
        what = t("busy_ingest").format(names=", ".join(lit(os.path.basename(p)) for p in paths))
        done = data.exclusive(url, what, manage.ingest, paths, bench_path, phases_path, decl_paths, _Bar(),
                              key_paths)  # fmt: skip
    except FAILURES as exc:
        st.error(lit(str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
        return
    finally:
        data.refresh()
    for r in done.results:
        what = t("ingested") if r.status == "ingested" else t("already_stored")
        n = done.findings.get(r.capture_id, 0)
        tls = ""
        if r.key_files or any(r.tls.values()):  # counts only: key material is never shown
            tls = "; " + t("tls_counts").format(
                **{k: r.tls.get(k, 0) for k in ("decrypted", "no_key", "failed")}
            )
        name = lit(os.path.basename(r.path))  # a file name is the uploader's text
        st.success(f"{what}: {name} ({r.capture_id[:12]}), {n} {t('findings_n')}{tls}")


def _delete(url: str) -> None:
    stored = data.captures(url)
    if not stored:
        return
    st.subheader(t("delete_title"))
    names = {str(c["capture_id"]): os.path.basename(str(c["path"])) for c in stored}
    cid = st.selectbox(t("delete_pick"), list(names), format_func=lambda c: f"{c[:12]} {names[c]}",
                       key="del_pick")  # fmt: skip
    sure = st.checkbox(t("delete_confirm"), key="del_confirm")
    if not st.button(t("delete"), key="del_go") or cid is None:
        return
    if not sure:
        st.warning(t("delete_unconfirmed"))
        return
    try:
        data.exclusive(url, t("busy_delete").format(name=lit(names[cid])), manage.delete_capture, cid)
    except StoreError as exc:
        st.error(lit(exc))
        return
    finally:
        data.refresh()
    st.success(f"{t('deleted')}: {cid[:12]} {lit(names[cid])}")


def render(url: str, caps: data.Caps) -> None:
    st.header(t("captures"))
    live.render_panel()
    listing = st.container()  # filled last: an ingest or a delete below shows at once
    _upload(url)
    _delete(url)
    rows = [
        {
            "sha256": c["capture_id"],
            "path": os.path.basename(str(c["path"])),
            "start": ts(c["first_ns"]),
            "end": ts(c["last_ns"]),
            "first_ns": int(c["first_ns"]),  # not shown: the zone's UTC offsets in the time columns' help
            "duration_s": (int(c["last_ns"]) - int(c["first_ns"])) / 1e9,
            "packets": int(c["packets"]),
            "flows": int(c["flows"]),
            "devices": int(c["devices"]),
            "status": _status(c),
        }
        for c in data.captures(url)
        if not caps or c["capture_id"] in caps
    ]
    cols = {"sha256": "sha256", "path": "path", "start": "start", "end": "end", "duration_s": "duration",
            "packets": "packets", "flows": "n_flows", "devices": "devices", "status": "status"}  # fmt: skip
    show(table(rows, cols), "captures_table", where=listing)
