"""Captures: every stored capture with its sha256, time span, devices and status; add captures
(upload, replay with a progress bar, assess) and report what the run found, with links to its pages;
delete one, asked again every time.

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
from dashboards import data, links
from dashboards import uploads as manage
from dashboards.i18n import count, t, value
from dashboards.pages_ import live
from dashboards.pages_.common import device_label, lit, show, table, ts, under_test
from parsers.capture import CaptureError
from policies.declaration import DeclarationError

FAILURES = (CaptureError, BenchError, PhasesError, DeclarationError, StoreError, OSError, ValueError)


def _status(c: dict) -> str:
    if c.get("status") == "live":
        return value("status", "live")
    if c["read_error"]:
        return f"{t('read_error')}: {c['read_error']}"
    return value("status", "truncated" if int(c["truncated"]) else "complete")


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
    st.session_state[REPORT] = [_found(url, r, done.findings.get(r.capture_id, 0)) for r in done.results]


REPORT = "up_report"  # the last upload's report: it stays until the next upload
FLASH = "captures_flash"  # a message for the run after a rerun (a delete reruns the whole app)


def _found(url: str, r: Any, n: int) -> dict[str, Any]:
    """What the run found in one capture, kept as plain values (the report outlives the run)."""
    row = next((c for c in data.captures(url) if c["capture_id"] == r.capture_id), {})
    devs = [
        {"mac": str(d["mac"]), "label": device_label(d)}
        for d in under_test(data.devices(url, (r.capture_id,)))
    ]
    return {
        "ingested": r.status == "ingested",
        "name": os.path.basename(r.path),
        "cid": r.capture_id,
        "devices": devs,
        "flows": int(row.get("flows", r.flows)),
        "findings": n,
        "tls": {k: r.tls.get(k, 0) for k in ("decrypted", "no_key", "failed")}
        if r.key_files or any(r.tls.values())  # counts only: key material is never shown
        else None,
    }


def _report() -> None:
    """The last upload's report: per capture, ingested or already stored, how many devices, flows
    and findings, and links to its overview, findings and each device's page (on that capture)."""
    for f in st.session_state.get(REPORT) or []:
        tls = "; " + t("tls_counts").format(**f["tls"]) if f["tls"] else ""
        text = t(
            "upload_found"
        ).format(
            what=t("ingested") if f["ingested"] else t("already_stored"),
            name=lit(f["name"]),  # a file name is the uploader's text
            cid=f["cid"][:12],
            devices=count("n_devices", len(f["devices"])),
            flows=count("n_flows_of", f["flows"]),
            n=count("n_findings_of", f["findings"]),
            tls=tls,
        )
        opened = [
            f"[{t('overview')}]({links.href('overview', capture=f['cid'])})",
            f"[{t('findings')}]({links.href('findings', capture=f['cid'])})",
            *(
                f"[{lit(d['label'])}]({links.href('device', device=d['mac'], capture=f['cid'])})"
                for d in f["devices"]
            ),
        ]
        st.success(f"{text}  \n{t('upload_open')}: " + " · ".join(opened))


def _delete(url: str) -> None:
    """Delete asks again every time: the Delete button only asks, naming the capture; "Yes,
    delete" deletes it, "Cancel" or choosing another capture forgets the question. Afterwards the
    whole app reruns, so the sidebar's filter drops the deleted capture (``app._drop_gone``)."""
    stored = data.captures(url)
    if not stored:
        return
    st.subheader(t("delete_title"))
    names = {str(c["capture_id"]): os.path.basename(str(c["path"])) for c in stored}
    cid = st.selectbox(t("delete_pick"), list(names), format_func=lambda c: f"{c[:12]} {names[c]}",
                       key="del_pick", placeholder=t("choose"))  # fmt: skip
    if st.button(t("delete"), key="del_go") and cid is not None:
        st.session_state[ASK] = cid
    asked = st.session_state.get(ASK)
    if asked is None:
        return
    if asked != cid or asked not in names:  # another capture chosen since: ask about that one anew
        st.session_state.pop(ASK, None)
        return
    question = st.empty()  # above its buttons, drawn once they say whether it still stands
    c1, c2, _ = st.columns([1, 1, 4])
    yes = c1.button(t("delete_yes"), key="del_yes", type="primary")
    if c2.button(t("delete_no"), key="del_no"):
        st.session_state.pop(ASK, None)
        question.info(t("delete_cancelled"))
        return
    if not yes:
        question.warning(t("delete_ask").format(name=f"{lit(names[cid])} ({cid[:12]})"))
        return
    st.session_state.pop(ASK, None)
    try:
        data.exclusive(url, t("busy_delete").format(name=lit(names[cid])), manage.delete_capture, cid)
    except StoreError as exc:
        st.error(lit(exc))
        return
    finally:
        data.refresh()
    st.session_state[FLASH] = f"{t('deleted')}: {cid[:12]} {lit(names[cid])}"
    st.rerun()  # the sidebar was drawn with the capture: draw it again without


ASK = "del_ask"  # the capture whose deletion waits for "Yes, delete"


def render(url: str, caps: data.Caps) -> None:
    st.header(t("captures"))
    live.render_panel()
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(flash)
    listing = st.container()  # filled last: an ingest or a delete below shows at once
    _upload(url)
    _report()
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
            "open": links.href("overview", capture=str(c["capture_id"])),
        }
        for c in data.captures(url)
        if not caps or c["capture_id"] in caps
    ]
    cols = {"sha256": "sha256", "path": "path", "start": "start", "end": "end", "duration_s": "duration",
            "packets": "packets", "flows": "n_flows", "devices": "devices", "status": "status",
            "open": "open"}  # fmt: skip
    config = {t("open"): links.link_column(t("open"), "capture")}
    show(table(rows, cols), "captures_table", where=listing, config=config)
