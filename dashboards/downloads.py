"""Files the dashboard offers for download, built on demand from the store: a finding's
evidence capture (``appliance.findings.evidence``) and a device's HTML lab report (``appliance.report``).

Store functions (first argument the store): call them through ``dashboards.data._run``, which
holds the lock on the process's single store. Errors meant for the user are ``DownloadError``
with one line of text.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from appliance.findings.evidence import EvidenceError, export
from appliance.report.data import ReportError, gather
from appliance.store.backends import Store
from parsers.capture import CaptureError


class DownloadError(Exception):
    """The file cannot be built; the message is one line meant for the user."""


@dataclass(frozen=True)
class Download:
    file_name: str
    data: bytes
    mime: str
    packets: int = 0  # evidence: frames written


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def evidence_pcap(store: Store, finding_id: str) -> Download:
    """The packets behind a finding as pcap (pcapng when the capture mixes link types), written to
    a temporary folder, read back and deleted."""
    with tempfile.TemporaryDirectory(prefix="tapaudit-evidence-") as tmp:
        path = os.path.join(tmp, f"evidence-{finding_id[:16]}.pcap")
        try:
            res = export(store, finding_id, path)
        except (EvidenceError, CaptureError) as exc:
            raise DownloadError(_one_line(exc)) from None
        with open(path, "rb") as fh:
            data = fh.read()
    name = f"evidence-{res.finding_id[:16]}.{res.format}"
    return Download(name, data, "application/vnd.tcpdump.pcap", res.packets)


def report_html(store: Store, mac: str, capture_id: str | None = None) -> Download:
    """A device's lab report (of one capture, or of every capture it is in) as one HTML file.
    Values are masked (the report masks even a capture stored with raw evidence). The lab settings
    file is read as ``tapaudit report`` reads it without ``--lab`` (env TAPAUDIT_LAB, else
    ~/.config/tapaudit/lab.toml; ``appliance.report.lab``): its laboratory, customer, report
    number, signatories and time zone; a malformed one is the download's one-line error."""
    from appliance.report.lab import LabSettingsError, load
    from appliance.report.render_html import render_html

    try:
        html = render_html(gather(store, mac, capture_id, lab=load(None)))
    except (ReportError, LabSettingsError) as exc:
        raise DownloadError(_one_line(exc)) from None
    return Download(f"report-{mac.replace(':', '')}.html", html.encode("utf-8"), "text/html")
