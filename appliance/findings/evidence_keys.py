"""The TLS keys that decrypt exactly a finding's flows, handed over beside its evidence (issue 16).

A finding's TLS flows are named by their ClientHello randoms (``tls.client_random``, public: it is
in the packets). Their key log lines come from the key files the capture was replayed with, read
again by the path the store recorded and refused when missing or changed (sha256), or from the
capture's own Decryption Secrets Blocks, or, when the replay kept them (``--raw-evidence``), from
``capture_key_lines``. Only the lines of those randoms leave: a key log written beside the pcap
(Wireshark's ``tls.keylog_file``), or the secrets of a DSB at the head of a pcapng.
"""

from __future__ import annotations

import hashlib
import os

from appliance.ingest.keyfiles import lines_for
from appliance.store import queries
from appliance.store.backends import Store
from parsers.capture import ReadStats, read_batches
from parsers.decrypt.keys import DSB, INTERCEPT, KEYLOG, KeyLog


class KeysError(Exception):
    """The finding's keys cannot be handed over; one line meant for the user."""


def finding_key_lines(store: Store, fid: str, cid: str, flow_ids: list[int]) -> tuple[list[str], int]:
    """The key log lines of the finding's TLS flows, and how many of its TLS handshakes (client
    randoms) have no line; KeysError when there is no line at all to give."""
    randoms = queries.client_randoms(store, cid, flow_ids)
    if not randoms:
        raise KeysError(f"finding {fid}: none of its flows has a TLS handshake with a known client random")
    wanted = [bytes.fromhex(r) for r in randoms]
    sources = queries.capture_keys(store, cid)
    keys, problem = KeyLog(), ""
    for src in sources:
        path, want = str(src["path"]), str(src["sha256"])
        try:
            if src["kind"] in (KEYLOG, INTERCEPT):  # both NSS key log files
                _add_file(keys, path, want)
            elif src["kind"] == DSB:
                _add_dsbs(keys, path, want)
        except KeysError as exc:
            problem = problem or str(exc)
    lines = lines_for(keys, wanted)
    if not lines:
        lines = queries.raw_key_lines(store, cid, randoms)
    if not lines:
        if problem:
            raise KeysError(f"finding {fid}: {problem}")
        raise KeysError(
            f"finding {fid}: no key for its {len(randoms)} TLS flow(s) in the keys it was replayed with"
        )
    have = {line.split()[1] for line in lines}
    return lines, sum(1 for r in randoms if r not in have)


def _add_file(keys: KeyLog, path: str, want: str) -> None:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise KeysError(f"key log {path} cannot be read ({exc.strerror or exc})") from None
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise KeysError(f"key log {path} changed since the replay (sha256 {got[:16]}, stored {want[:16]})")
    keys.add_text(data, KEYLOG)


def _add_dsbs(keys: KeyLog, path: str, want: str) -> None:
    """The DSB of ``path`` whose secrets have the stored sha256 (the capture file was checked)."""
    st = ReadStats()
    if not os.path.isfile(path):
        raise KeysError(f"capture {path} holding the secrets block is missing")
    for _batch in read_batches(path, st):
        pass
    for stype, data in st.secrets:
        if hashlib.sha256(data).hexdigest() == want:
            keys.add_dsb(stype, data, path)
            return
    raise KeysError(f"capture {path} no longer holds the secrets block it was replayed with")


def write_keylog(path: str, lines: list[str]) -> str:
    """Write the key log (mode 0600: it is secret); its sha256."""
    text = "".join(line + "\n" for line in lines).encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)
    except OSError as exc:
        raise KeysError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return hashlib.sha256(text).hexdigest()
