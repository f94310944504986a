"""Managing the store's captures from the dashboard: keep uploaded files, ingest them, delete a capture.

No Streamlit here: the dashboard's Captures page calls these with the store it opened
(chDB allows one data path per process) and shows their one-line errors.

- ``save_upload`` keeps an uploaded file under ``<uploads>/<sha256 prefix>/<name>``,
  refusing a capture that is not pcap or pcapng (``parsers.capture.sniff_format``);
- ``ingest`` replays captures (with an optional bench and phases file, and TLS key logs), then
  assesses each with the optional declarations, as ``tapaudit replay`` then ``tapaudit assess`` do;
  key logs are kept readable by the owner only (``save_upload(secret=True)``), where evidence
  reads them again; their content is never shown (issue 16);
- ``delete_capture`` removes every row of a capture from every table but ``meta``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from appliance.findings.assess import assess
from appliance.ingest.keyfiles import load_keys
from appliance.ingest.replay import Progress, ReplayOptions, ReplayResult, replay
from appliance.lab.bench import load_bench
from appliance.lab.phases import load_phases
from appliance.store.backends import DEFAULT_DB, Store
from parsers.capture import CaptureError, sniff_format
from policies.declaration import load_declarations

PREFIX = 16  # hex digits of the content's sha256 naming an upload's folder


def uploads_dir(db_url: str) -> str:
    """Where uploads are kept: ``<data folder>/uploads`` (./data/uploads for a server store)."""
    base = DEFAULT_DB if "://" in db_url else db_url
    return os.path.join(base, "uploads")


def _safe_name(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/")).strip()
    return base if base not in ("", ".", "..") else "upload"


def save_upload(folder: str, name: str, content: bytes, capture: bool = False, secret: bool = False) -> str:
    """Write ``content`` to ``folder/<sha256 prefix>/<name>`` and return the path.

    With ``capture`` the file must be a pcap or pcapng (gzip, xz or bzip2 allowed): otherwise it is
    removed again and CaptureError says so in one line. With ``secret`` (a key log) the file is
    readable by its owner only.
    """
    digest = hashlib.sha256(content).hexdigest()[:PREFIX]
    where = os.path.join(folder, digest)
    os.makedirs(where, exist_ok=True)
    path = os.path.join(where, _safe_name(name))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    if secret:
        os.fchmod(fd, 0o600)  # an earlier upload of the same bytes may have left it wider
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
    if capture:
        try:
            sniff_format(path)
        except CaptureError as exc:
            os.remove(path)
            if not os.listdir(where):
                os.rmdir(where)
            msg = str(exc).replace(path, _safe_name(name))
            raise CaptureError(msg) from None
    return path


@dataclass
class Ingested:
    """What one ingest did: the replays and how many findings each capture's assessment gave."""

    results: list[ReplayResult] = field(default_factory=list)
    findings: dict[str, int] = field(default_factory=dict)


def ingest(
    store: Store,
    captures: Sequence[str],
    bench: str | None = None,
    phases: str | None = None,
    declarations: Sequence[str] = (),
    progress: Progress | None = None,
    keylogs: Sequence[str] = (),
) -> Ingested:
    """Replay each capture (a capture already stored is skipped), then assess it.

    The bench, phases, declaration and key log files are read before anything is written: a
    bad one raises its module's error (BenchError, PhasesError, DeclarationError, KeyFileError).
    """
    opts = ReplayOptions(keylogs=list(keylogs))
    load_keys(opts.keylogs)
    if bench:
        opts.bench = load_bench(bench)
        if opts.bench.lan_prefixes:
            opts.lan_prefixes = opts.bench.lan_prefixes
    if phases:
        opts.phases = load_phases(phases)
    decls = load_declarations(list(declarations)) if declarations else []
    out = Ingested()
    for path in captures:
        res = replay(store, path, opts, progress)
        out.results.append(res)
        out.findings[res.capture_id] = len(assess(store, res.capture_id, None, decls).findings)
    return out


def delete_capture(store: Store, capture_id: str) -> bool:
    """Remove every row of one capture (all its runs) from every table; False if it was not stored.

    The capture disappears from the read API at once (``Store.drop_capture``).
    """
    stored = bool(
        store.query("SELECT 1 AS x FROM {db}.captures WHERE capture_id = %(c)s LIMIT 1", {"c": capture_id})
    )
    store.drop_capture(capture_id)
    return stored
