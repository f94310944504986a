"""The packets behind a finding, written as a capture file Wireshark and tshark open.

A finding names its flows (``findings.flow_ids``); each flow record has its 5-tuple and
its own time span (one 5-tuple can have several records: after an active timeout, after
a close, on port reuse). The capture's files are read again as the ``captures`` row
records them (missing or changed files are refused: each file is hashed as it is read, from
the one descriptor the frames come from, so the bytes exported are the bytes verified even if
the file is swapped meanwhile, issue 17), every frame is keyed with the
replay's own decoders (``parsers.flowkey``), and a frame belongs to a record when its key
is the record's, either direction, and the meter accounted it within the record's span.
A fragmented datagram is accounted when its last piece arrives: all its fragments are
written. The flow meter's table has no VLAN in its key, so neither has this match: a
record holds (and its evidence shows) every packet the meter counted in it.

Frames are written in time order with their original timestamps (nanosecond pcap, or
pcapng with one interface per link type when the capture mixes link types), lengths
and bytes. Each export is recorded in ``evidence_exports``. With keys asked for, the TLS key
lines of exactly these flows go beside the file or into its DSB (``evidence_keys``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

from appliance.findings.evidence_keys import KeysError, finding_key_lines, write_keylog
from appliance.ingest.sources import CaptureChanged, sha256_file, verify_read
from appliance.store import queries
from appliance.store.backends import Store
from appliance.store.schema import EVIDENCE_EXPORTS
from parsers.capture import Limits, ReadStats, read_batches
from parsers.capture_write import SNAPLEN, PcapngWriter, PcapWriter
from parsers.flowkey import FrameKeys, Undirected, undirected
from parsers.ipfrag import TIMEOUT_NS


class EvidenceError(Exception):
    """The evidence cannot be exported; the message is one line meant for the user."""


@dataclass
class FlowEvidence:
    """One flow record of the finding and what was found of it in the capture."""

    flow_id: int
    proto: int
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    vlan: int
    first_ns: int
    last_ns: int
    destination: str
    pkts: int  # the flow record's pkts_up + pkts_down
    matched: int = 0  # packets found, as the meter counts them (a fragmented datagram is one)
    frames: int = 0  # frames written for it (every fragment)

    @property
    def complete(self) -> bool:
        return self.matched == self.pkts


@dataclass
class ExportResult:
    finding_id: str
    capture_id: str
    rule_id: str
    device_mac: str
    path: str
    format: str
    sha256: str
    packets: int
    bytes: int
    first_ns: int
    last_ns: int
    created_ns: int
    flows: list[FlowEvidence] = field(default_factory=list)
    key_lines: int = 0  # TLS key log lines handed over (beside the file, or in its DSB)
    keylog_path: str = ""  # the key log written beside the file ('' when none, or in a DSB)
    tls_without_key: int = 0  # the finding's TLS handshakes (client randoms) with no key line

    @property
    def complete(self) -> bool:
        """Every flow record's packet count was found again."""
        return all(f.complete for f in self.flows)

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["complete"] = self.complete
        for f, d in zip(self.flows, doc["flows"], strict=True):
            d["flow_id"] = str(f.flow_id)
            d["complete"] = f.complete
        return doc


def export(
    store: Store, finding_id: str, path: str, keylog_out: str | None = None, dsb: bool = False
) -> ExportResult:
    """Write the packets of a finding's flows to ``path`` and record the export.

    ``finding_id`` is a current finding's id or a unique prefix of it. ``keylog_out``: also write
    the TLS key log lines of exactly those flows there; ``dsb``: put them in a Decryption Secrets
    Block of a pcapng instead (``appliance.findings.evidence_keys``). Raises EvidenceError
    (unknown finding, capture or key files missing or changed, no keys, nothing to export) and
    CaptureError (a file that cannot be read).
    """
    fnd = _finding(store, finding_id)
    fid, cid = str(fnd["finding_id"]), str(fnd["capture_id"])
    if os.path.realpath(path) in {os.path.realpath(f) for f in _capture(store, fnd)[0]["files"]}:
        raise EvidenceError(f"{path}: is a file of the capture itself; write the evidence elsewhere")
    lines: list[str] = []
    without_key = 0
    if keylog_out or dsb:  # before anything is written: a refusal leaves no half-handed evidence
        try:
            lines, without_key = finding_key_lines(store, fid, cid, [int(i) for i in fnd["flow_ids"]])
        except KeysError as exc:
            raise EvidenceError(str(exc)) from None
    sel = select(store, fnd)
    cap, ids, flows, frames, link_types = sel.capture, sel.flow_ids, sel.flows, sel.frames, sel.link_types
    fmt = "pcapng" if dsb or len(link_types) > 1 or path.lower().endswith(".pcapng") else "pcap"
    secrets = "".join(line + "\n" for line in lines).encode("ascii") if dsb else b""
    digest, nbytes = _write(path, fmt, frames, secrets)
    if keylog_out:
        try:
            write_keylog(keylog_out, lines)
        except KeysError as exc:
            raise EvidenceError(str(exc)) from None
    created = time.time_ns()
    res = ExportResult(
        finding_id=fid,
        capture_id=cid,
        rule_id=str(fnd["rule_id"]),
        device_mac=str(fnd["device_mac"]),
        path=os.path.abspath(path),
        format=fmt,
        sha256=digest,
        packets=len(frames),
        bytes=nbytes,
        first_ns=frames[0][0] if frames else 0,
        last_ns=frames[-1][0] if frames else 0,
        created_ns=created,
        flows=flows,
        key_lines=len(lines),
        tls_without_key=without_key,
        keylog_path=os.path.abspath(keylog_out) if keylog_out else "",
    )
    store.insert(
        "evidence_exports",
        [
            EVIDENCE_EXPORTS.row(
                capture_id=cid,
                ingest_id=int(cap["ingest_id"]),
                finding_id=fid,
                path=res.path,
                sha256=digest,
                format=fmt,
                packets=res.packets,
                bytes=nbytes,
                flow_ids=ids,
                created_ns=created,
            )
        ],
    )
    return res


@dataclass
class Selection:
    """A finding's evidence packets as the export writes them (``select``)."""

    capture: dict[str, Any]
    flow_ids: list[int]
    flows: list[FlowEvidence]
    frames: list[Frame]
    link_types: set[int]

    @property
    def format(self) -> str:
        return "pcapng" if len(self.link_types) > 1 else "pcap"


def find(store: Store, finding_id: str) -> dict[str, Any]:
    """The current finding ``finding_id`` names (an id or a unique prefix); EvidenceError otherwise."""
    return _finding(store, finding_id)


def _capture(store: Store, fnd: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    fid, cid = str(fnd["finding_id"]), str(fnd["capture_id"])
    ids = [int(i) for i in fnd["flow_ids"]]
    if not ids:
        raise EvidenceError(f"finding {fid} names no flows: there are no packets to export")
    caps = queries.capture_files(store, cid)
    if not caps:
        raise EvidenceError(f"finding {fid}: its capture {cid[:16]} is no longer stored")
    if queries.log_captures(store, [cid]):  # issue 21: logs name connections, they hold no packets
        raise EvidenceError(
            f"finding {fid}: its capture {cid[:16]} was replayed from Zeek logs, which carry no payload: no "
            "packets to export (the logs, listed with their sha256 in `tapaudit captures`, are its evidence)"
        )
    return caps[0], ids


def select(store: Store, fnd: dict[str, Any]) -> Selection:
    """The packets of a finding's flows read again from its capture's files (checked by sha256):
    what ``export`` writes and what the Wireshark check dissects. EvidenceError when there are none."""
    fid, cid = str(fnd["finding_id"]), str(fnd["capture_id"])
    cap, ids = _capture(store, fnd)
    rows = queries.flows_by_id(store, cid, ids)
    missing = set(ids) - {int(r["flow_id"]) for r in rows}
    if missing:
        raise EvidenceError(f"finding {fid}: flow {min(missing)} is not stored with capture {cid[:16]}")
    files = [str(f) for f in cap["files"]]
    hashes = [str(h) for h in cap["file_sha256"]]
    _check_files(files, fid)
    flows = [
        FlowEvidence(
            int(r["flow_id"]),
            int(r["proto"]),
            str(r["src_ip"]),
            int(r["src_port"]),
            str(r["dst_ip"]),
            int(r["dst_port"]),
            int(r["vlan"]),
            int(r["first_ns"]),
            int(r["last_ns"]),
            str(r["destination"]),
            int(r["pkts_up"]) + int(r["pkts_down"]),
        )
        for r in rows
    ]
    try:
        frames, link_types = _collect(files, hashes, flows)
    except CaptureChanged as exc:
        raise EvidenceError(
            f"{exc.path}: capture file changed since it was replayed (sha256 {exc.got[:16]}, "
            f"stored {exc.want[:16]}); nothing exported"
        ) from None
    if not frames:
        raise EvidenceError(f"finding {fid}: none of its flows' packets are in the capture's files")
    return Selection(cap, ids, flows, frames, link_types)


def write(path: str, fmt: str, frames: list[Frame], secrets: bytes = b"") -> tuple[str, int]:
    """Write frames as ``export`` does (atomically); their sha256 and bytes."""
    return _write(path, fmt, frames, secrets)


def _finding(store: Store, finding_id: str) -> dict[str, Any]:
    want = finding_id.strip().lower()
    if not want or any(c not in "0123456789abcdef" for c in want):
        raise EvidenceError(f"{finding_id!r} is not a finding id (hexadecimal, see `tapaudit findings`)")
    rows = queries.finding(store, want)
    if not rows:
        raise EvidenceError(f"no current finding has id {finding_id} (see `tapaudit findings`)")
    if len(rows) > 1:
        raise EvidenceError(f"more than one finding id starts with {finding_id}: give more digits")
    return rows[0]


def _check_files(files: list[str], fid: str) -> None:
    """Every file of the capture is where the replay read it (its bytes are checked as it is read)."""
    for f in files:
        if not os.path.isfile(f):
            where = (
                "" if os.path.isabs(f) else " (the path is as replay was given it, relative to where it ran)"
            )
            raise EvidenceError(f"{f}: capture file of finding {fid} is missing{where}")


# The files were replayed (within the limits replay was given); a swapped bomb is caught by its sha256.
NO_LIMITS = Limits(max_decompressed=0, max_ratio=0)
# (timestamp ns, order read, link type, original length, bytes)
Frame = tuple[int, int, int, int, bytes]


def _collect(files: list[str], hashes: list[str], flows: list[FlowEvidence]) -> tuple[list[Frame], set[int]]:
    """The frames of the flows' packets in time order, and the capture's link types; CaptureChanged
    when a file's bytes as read are not the ones replayed (``hashes``)."""
    index: dict[Undirected, list[tuple[int, int, FlowEvidence]]] = {}
    for f in flows:
        a, b = ipaddress.ip_address(f.src_ip).packed, ipaddress.ip_address(f.dst_ip).packed
        index.setdefault(undirected((f.proto, a, f.src_port, b, f.dst_port)), []).append(
            (f.first_ns, f.last_ns, f)
        )
    # Fragments of a datagram accounted at ``first`` may come up to the reassembly timeout earlier.
    lo = min(f.first_ns for f in flows) - TIMEOUT_NS
    hi = max(f.last_ns for f in flows)
    keys: FrameKeys[Frame] = FrameKeys()
    out: list[Frame] = []
    stats = ReadStats()
    n = 0
    for path, want in zip(files, hashes, strict=True):
        for batch in read_batches(path, stats, NO_LIMITS):
            for ts, lt, orig, data in batch:
                n += 1
                if ts < lo or ts > hi:
                    continue
                got = keys.add(ts, lt, data, (ts, n, lt, orig, bytes(data)))
                if got is None:
                    continue
                key, _vlan, members = got
                for first, last, f in index.get(undirected(key), ()):
                    if first <= ts <= last:
                        f.matched += 1
                        f.frames += len(members)
                        out.extend(members)
                        break
        verify_read(path, want, stats.sha256)
    out.sort()
    return out, stats.link_types


def _write(path: str, fmt: str, frames: list[Frame], secrets: bytes = b"") -> tuple[str, int]:
    """Write the file (atomically: a temporary beside it, then renamed); its sha256 and bytes."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise EvidenceError(f"{path}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".evidence-", dir=folder)
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            if fmt == "pcapng":
                _write_pcapng(fh, frames, secrets)
            else:
                _write_pcap(fh, frames)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise EvidenceError(f"{path}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return sha256_file(path), sum(len(fr[4]) for fr in frames)


def _write_pcap(fh: BinaryIO, frames: list[Frame]) -> None:
    """Classic pcap, little endian, nanosecond timestamps (tcpdump's and Wireshark's nanosecond magic)."""
    linktype = frames[0][2] if frames else 1
    with PcapWriter(fh, linktype, nano=True, snaplen=_snaplen(frames)) as out:
        for ts, _n, _lt, orig, data in frames:
            out.write(ts, data, orig)


def _write_pcapng(fh: BinaryIO, frames: list[Frame], secrets: bytes = b"") -> None:
    """pcapng: a section, the TLS key lines in a DSB when given (before any packet, as readers
    need them), one interface per link type (nanosecond if_tsresol), an EPB per frame."""
    snaplen = _snaplen(frames)
    with PcapngWriter(fh) as out:
        if secrets:
            out.write_secrets(secrets)
        ifaces: dict[int, int] = {}
        for lt in [fr[2] for fr in frames] or [1]:
            if lt not in ifaces:
                ifaces[lt] = out.add_interface(lt, snaplen, tsresol=9)
        for ts, _n, lt, orig, data in frames:
            out.write(ts, data, ifaces[lt], orig)


def _snaplen(frames: list[Frame]) -> int:
    return max([SNAPLEN, *(len(fr[4]) for fr in frames)])
