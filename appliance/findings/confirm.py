"""Wireshark's second opinion on a finding (issue 22): its evidence packets dissected by tshark,
and what the finding states checked against them.

For one finding: the packets ``tapaudit evidence`` would export (``evidence.select``) go to a
temporary pcap, with the TLS key lines of its flows (``evidence_keys``) when it has TLS; tshark
reads them through pyshark (``tshark_read``); every claim (``confirm_claims``) is looked for in the
field Wireshark names for it. A personal value is compared by its keyed hash (HMAC-SHA256 with the
masking key, as ``appliance.ingest.observe`` hashes it) over the values tshark shows and over the
detector's hits in the payloads tshark reassembled: the value itself is never stored, printed or
logged; what is kept is masked (``appliance.masking``).

The store is read and written in the calling process (chDB opens a data folder once); the
dissection, which is slow, runs per finding in worker processes (``confirm_all``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from appliance.findings import evidence
from appliance.findings.confirm_claims import Claim, claims_of
from appliance.findings.evidence_keys import KeysError, finding_key_lines, write_keylog
from appliance.findings.tshark_read import Frame, TsharkError, read, version
from appliance.masking import IDENTIFIER, mask, mask_hit, mask_name, mask_path, mask_query
from appliance.store import queries
from appliance.store.backends import Store
from appliance.store.schema import CONFIRMATIONS
from parsers.detect.scan import scan

CONFIRMED, NOT_CONFIRMED, NOT_CHECKABLE = "confirmed", "not confirmed", "not checkable"
OUTCOMES = (CONFIRMED, NOT_CONFIRMED, NOT_CHECKABLE)
# Fields whose value is a payload (bytes as colon hex, or text) the detectors read again.
PAYLOADS = (
    "http.file_data",
    "mqtt.msg",
    "data.data",
    "coap.payload",
    "http.request.uri.query",
    "json.object",
)
# Fields that carry content (bodies, members, parameters, payloads), searched first for a value.
CONTENT = (
    "json.", "urlencoded-form.", "http.file_data", "http.request.uri", "http.request.line", "mqtt.msg",
    "http2.headers.path", "http2.data.data", "http2.body",
    "mqtt.topic", "mqtt.clientid", "coap.payload", "coap.opt.uri", "data.", "mime_multipart.", "media.",
)  # fmt: skip
# Fields holding a request's whole URI (HTTP/1 request line, HTTP/2 :path).
URIS = frozenset(("http.request.uri", "http2.headers.path", "http.request.full_uri"))
# Layers that never carry a claim's value (headers below the application).
LOWER = frozenset(("frame", "eth", "sll", "vlan", "ip", "ipv6", "tcp", "udp", "_ws.expert"))
HEX = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){3,}$")


@dataclass
class Job:
    """One finding's check, as handed to a worker: no store, only files and claims."""

    capture_id: str
    ingest_id: int
    assess_id: int
    finding_id: str
    claims: list[Claim]
    pcap: str = ""
    keylog: str = ""
    key: bytes = b""
    reason: str = ""  # set when the finding cannot be checked before tshark runs
    tshark: str = ""


@dataclass
class Outcome:
    outcome: str
    reason: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    packets: list[dict[str, Any]] = field(default_factory=list)
    tree: list[dict[str, Any]] = field(default_factory=list)


def prepare(store: Store, fnd: dict[str, Any], folder: str, key: bytes, tshark: str) -> Job:
    """Read what the check needs from the store and write the evidence packets into ``folder``."""
    fid = str(fnd["finding_id"])
    job = Job(str(fnd["capture_id"]), int(fnd["ingest_id"]), int(fnd["assess_id"]), fid, [], key=key)
    job.tshark = tshark
    if not list(fnd["flow_ids"]):
        job.reason = "no packet evidence: the finding is about an absence or a declaration, not packets"
        return job
    job.claims = claims_of(store, fnd)
    try:
        sel = evidence.select(store, fnd)
    except evidence.EvidenceError as exc:
        job.reason = f"the capture file is gone or changed: {exc}"
        return job
    job.pcap = os.path.join(folder, f"{fid}.{sel.format}")
    evidence.write(job.pcap, sel.format, sel.frames)
    if any(c.encrypted for c in job.claims) or _has_tls(store, fnd):
        try:
            lines, _ = finding_key_lines(store, fid, job.capture_id, sel.flow_ids)
            job.keylog = os.path.join(folder, f"{fid}.keys")
            write_keylog(job.keylog, lines)
        except KeysError:
            job.keylog = ""
    return job


def _has_tls(store: Store, fnd: dict[str, Any]) -> bool:
    return bool(queries.client_randoms(store, str(fnd["capture_id"]), [int(i) for i in fnd["flow_ids"]]))


def check(job: Job) -> Outcome:
    """The worker's part: dissect the packets and check each claim (no store)."""
    if job.reason:
        return Outcome(NOT_CHECKABLE, job.reason)
    try:
        frames = _read(job)
    except TsharkError as exc:
        return Outcome(NOT_CHECKABLE, str(exc))
    checks, found = [], {}
    skipped = 0
    for c in job.claims:
        if c.encrypted and not job.keylog:
            skipped += 1
            continue
        res, raw = _check_claim(c, frames, job.key)
        checks.append(res)
        if raw:
            found[raw] = mask_hit(c.data_type, raw)
    packets = [_packet(f, found) for f in frames]
    tree = _tree(checks)
    if not checks and not skipped:
        return Outcome(NOT_CHECKABLE, "no claim Wireshark can check in these packets", checks, packets, tree)
    bad = [c for c in checks if not c["ok"]]
    if not bad and skipped:  # what was read from decrypted TLS cannot be seen without its keys
        why = f"TLS without keys: {skipped} of {skipped + len(checks)} things it states are inside encryption"
        return Outcome(NOT_CHECKABLE, why, checks, packets, tree)
    if not bad:
        return Outcome(CONFIRMED, "", checks, packets, tree)
    said = "; ".join(
        f"{c['claim']}: Wireshark reads {c['seen'] or 'nothing'}, the finding says {c['expected']}"
        for c in bad[:3]
    )
    more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
    return Outcome(NOT_CONFIRMED, said + more, checks, packets, tree)


def _read(job: Job, attempts: int = 2) -> list[Frame]:
    """tshark's reading of the evidence, tried again once when it fails: the file is ours and was just
    written, so a failure is the machine's (a worker starved of memory or processes on a loaded
    lab box), not the packets'; a second failure is reported as the finding's reason."""
    for attempt in range(attempts):
        try:
            return read(job.pcap, job.keylog or None)
        except TsharkError:
            if attempt == attempts - 1:
                raise
    return []


def _check_claim(c: Claim, frames: list[Frame], key: bytes) -> tuple[dict[str, Any], str]:
    """One claim against tshark's fields: the check (masked) and, for a personal value found,
    its raw value (kept in memory only, to mask it in the packet list)."""
    if c.claim == "personal value":
        return _check_value(c, frames, key)
    seen: list[tuple[int, str, str]] = []
    for f in frames:
        for name, value, _above in f.fields:
            if name in c.fields:
                seen.append((f.number, name, value))
    want = _norm(c.claim, c.expected)
    for preferred in c.fields:  # the most precise field first (the URI's path before the whole URI)
        for frame, name, value in seen:
            if name == preferred and _norm(c.claim, value) == want:
                return _res(c, name, _show(c.claim, value), True, frame), ""
    shown = sorted({_show(c.claim, v) for _f, _n, v in seen})
    return _res(c, c.fields[0], ", ".join(shown[:3]), False, 0), ""


def _norm(claim: str, value: str) -> str:
    if claim in ("http path", "mqtt topic", "coap path"):
        if claim == "coap path" and "://" in value:  # tshark 4.0 rebuilds the URI with Uri-Host
            value = urlsplit(value).path
        path = value.split("?", 1)[0] if claim == "http path" else value
        return mask_path(path if claim != "coap path" else "/" + path.lstrip("/"))
    if claim in ("server name", "http host", "dns name"):
        return value.lower().rstrip(".")
    return value


def _show(claim: str, value: str) -> str:
    """A value tshark shows, masked as the store masks what it is."""
    if claim in ("http path", "mqtt topic", "coap path"):
        path, q, query = value.partition("?")
        return mask_path(path) + (q + mask_query(query) if q else "")
    if claim in ("server name", "http host", "dns name"):
        return mask_name(value)
    return value


def _res(c: Claim, fieldname: str, seen: str, ok: bool, frame: int) -> dict[str, Any]:
    return {
        "claim": c.claim,
        "field": fieldname,
        "expected": c.expected,
        "seen": seen,
        "ok": ok,
        "frame": frame,
    }


def _check_value(c: Claim, frames: list[Frame], key: bytes) -> tuple[dict[str, Any], str]:
    """A personal value: its keyed hash among tshark's values, or among the detectors' hits in the
    payloads tshark reassembled (the value is compared by hash, never kept)."""
    for carried in (True, False):  # where content is carried first: a short value may equal a header's
        for f in frames:
            for name, value, above in f.fields:
                if (above and above[0] in LOWER) or name.startswith(CONTENT) != carried:
                    continue
                for cand, dt in _candidates(name, value, c.data_type):
                    digest = hmac.new(key, f"{dt}\x00{cand}".encode(), hashlib.sha256).hexdigest()[:16]
                    if dt == c.data_type and digest == c.value_hash:
                        shown = f"{c.data_type} {mask_hit(c.data_type, cand)}"
                        return _res(c, name, shown, True, f.number), cand
    return _res(c, c.fields[0], "", False, 0), ""


def _candidates(name: str, value: str, data_type: str) -> list[tuple[str, str]]:
    """The values a field holds: itself, a query's or member's values, and the detectors' hits
    in a payload."""
    out = [(value, data_type)]
    if name == "json.member_with_value" and ":" in value:
        out.append((value.split(":", 1)[1], data_type))
    if "=" in value and name.endswith(("query", "parameter", "form.value", "file_data")):
        out += [(v, data_type) for _k, v in parse_qsl(value, keep_blank_values=True)]
    if name in URIS and "?" in value:  # the query as the observer reads it (carrier http.query)
        query = value.split("?", 1)[1]
        out += [(v, data_type) for _k, v in parse_qsl(query, keep_blank_values=True)]
        out += [(h.value, h.data_type) for h in scan(query.encode("latin-1", "replace"))]
    if name.endswith(PAYLOADS) or name in PAYLOADS:
        data = bytes.fromhex(value.replace(":", "")) if HEX.match(value) else value.encode("utf-8", "replace")
        out += [(h.value, h.data_type) for h in scan(data)]
    return out


def _packet(f: Frame, found: dict[str, str]) -> dict[str, Any]:
    return {
        "frame": f.number,
        "time": f.time,
        "src": f.src,
        "dst": f.dst,
        "protocol": f.protocol,
        "length": f.length,
        "info": mask_info(f.info, found),
    }


def mask_info(info: str, found: dict[str, str] | None = None) -> str:
    """tshark's Info column masked: values found as personal, query values, identifier-like path
    or topic segments and tokens (``appliance.masking``)."""
    for raw, masked in sorted((found or {}).items(), key=lambda kv: -len(kv[0])):
        if raw:
            info = info.replace(raw, masked)
    out = []
    for tok in info.split(" "):
        core = tok.strip("[](),")
        if "?" in core:
            path, _, query = core.partition("?")
            tok = tok.replace(core, mask_path(path) + "?" + mask_query(query))
        elif "/" in core:
            tok = tok.replace(core, mask_path(core))
        elif IDENTIFIER.fullmatch(core) and not _address(core):
            tok = tok.replace(core, mask(core))
        out.append(tok)
    return " ".join(out)


def _address(tok: str) -> bool:
    """An IP address or port pair stays readable (it is the flow's, not a person's)."""
    return bool(
        re.fullmatch(r"[\d.]+|[0-9a-fA-F:]+:[0-9a-fA-F:]*|\d+→\d+|Seq=\d+|Ack=\d+|Len=\d+|Win=\d+", tok)
    )


def _tree(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per frame that holds a checked claim: the fields that carried them (masked)."""
    by_frame: dict[int, list[dict[str, Any]]] = {}
    for c in checks:
        if c["ok"] and c["frame"]:
            node = {"name": c["field"], "show": c["seen"], "children": []}
            if node not in by_frame.setdefault(c["frame"], []):
                by_frame[c["frame"]].append(node)
    return [
        {"frame": n, "fields": [{"name": _proto(nodes), "show": "", "children": nodes}]}
        for n, nodes in sorted(by_frame.items())
    ]


def _proto(nodes: list[dict[str, Any]]) -> str:
    return str(nodes[0]["name"]).split(".", 1)[0] if nodes else ""


def row(job: Job, res: Outcome, confirm_id: int) -> tuple[Any, ...]:
    return CONFIRMATIONS.row(
        capture_id=job.capture_id,
        ingest_id=job.ingest_id,
        assess_id=job.assess_id,
        finding_id=job.finding_id,
        confirm_id=confirm_id,
        outcome=res.outcome,
        reason=res.reason,
        checks=json.dumps(res.checks, ensure_ascii=False),
        packets=json.dumps(res.packets, ensure_ascii=False),
        tree=json.dumps(res.tree, ensure_ascii=False),
        tshark_version=job.tshark,
        keyed=1 if job.keylog else 0,
        checked_ns=time.time_ns(),
    )


def confirm_all(
    store: Store,
    finding_ids: list[str],
    processes: int = 0,
    step: Callable[[str, Outcome], None] | None = None,
) -> list[tuple[str, Outcome]]:
    """Check each finding (current ids or unique prefixes) in ``processes`` worker processes (0:
    the machine's cores; 1: in this process) and store one ``confirmations`` row each; ``step`` is
    told of each as it ends. Raises TsharkError without tshark, EvidenceError for an unknown id."""
    tshark = version()
    fnds = [evidence.find(store, fid) for fid in finding_ids]
    key = store.hash_key() if fnds else b""
    folder = tempfile.mkdtemp(prefix="tapaudit-confirm-")
    confirm_id = time.time_ns()
    try:
        jobs = [prepare(store, fnd, folder, key, tshark) for fnd in fnds]
        n = min(processes or os.cpu_count() or 1, max(len(jobs), 1))
        done: list[tuple[str, Outcome]] = []
        if n == 1:
            results: Iterator[Outcome] = map(check, jobs)
            for job, res in zip(jobs, results, strict=True):
                done.append((job.finding_id, res))
                if step:
                    step(job.finding_id, res)
        else:
            with ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn")) as pool:
                for job, res in zip(jobs, pool.map(check, jobs), strict=True):
                    done.append((job.finding_id, res))
                    if step:
                        step(job.finding_id, res)
        if jobs:
            store.insert(
                "confirmations", [row(j, r, confirm_id) for j, (_f, r) in zip(jobs, done, strict=True)]
            )
        return done
    finally:
        shutil.rmtree(folder, ignore_errors=True)
