"""The replay fuzzer's seeds, its deterministic cases, and the case as a worker runs it.

Seeds are real captures (``../shared/pcaps`` and the OpenSSL loopback captures in ``pcaps/``)
chosen for their containers and what they make the code read: classic pcap in both byte
orders, pcapng with several interfaces and with a Decryption Secrets Block, a nanosecond pcap
and a gzip-compressed pcapng (both re-encoded from real captures with ``parsers.capture_write``
and ``gzip``: none of the shared captures is either), raw IP (with timestamps before 1970),
Linux cooked (QUIC, whose Initial packets tapaudit decrypts), BSD loopback (TLS certificates),
and three TLS/DTLS captures replayed with their key logs so that the decryptors read mutated
records too.

A worker replays each case with ``appliance.ingest.replay.replay``, the function ``tapaudit
replay`` calls, with the CLI's default settings and ``--force``, into an embedded store of its own (one per
worker, as one ``tapaudit replay`` run would use: opening a store costs more than a case).
The outcome is the CLI's: ``ok`` or ``truncated`` (exit 0, the capture committed), ``user_error``
(an error the CLI turns into one line and exit 1) or ``internal`` (anything else: exit 70).
"""

from __future__ import annotations

import gzip
import io
import os
import random
import re
import tempfile
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parsers import capture_write as cw
from parsers.capture import read_batches
from tests.support import capmutate

PROJECT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Seed:
    name: str
    shared: str  # path under ../shared/pcaps, or "" with ``local``
    what: str  # the container and what it makes the code read
    local: str = ""  # path in this checkout (pcaps/...)
    keylog: str = ""  # its NSS key log, same folder
    recode: str = ""  # "nano": rewritten as nanosecond pcap; "gzip": gzip-compressed


SEEDS = (
    Seed("aria-ether", "IoT-Sentinel/Aria/Setup-A-1-STA.pcap", "pcap, Ethernet: DHCP, DNS, HTTP of a scale"),
    Seed("steam-4idb", "nDPI/pcap/steam.pcapng", "pcapng, 4 interfaces"),
    Seed("mqtt-ns", "zeek/Traces/mqtt.pcap", "nanosecond pcap (recoded), MQTT", recode="nano"),
    Seed("http-gz", "nDPI/pcap/http-proxy.pcapng", "pcapng.gz (recoded), HTTP", recode="gzip"),
    Seed("tls-rawip-1969", "suricata-verify/tls/tls-pre-1970/input.pcap", "pcap, raw IP, 1969 timestamps"),
    Seed("quic-sll", "nDPI/pcap/quic-v2.pcapng", "pcapng, Linux cooked: QUIC v2 Initials"),
    Seed("tls-null", "nDPI/pcap/selfsigned.pcap", "pcap, BSD loopback: TLS certificates"),
    Seed("nfs-bigendian", "nDPI/pcap/nfsv3.pcap", "pcap, big-endian"),
    Seed("dtls-dsb", "nDPI/pcap/dtls.pcap", "pcapng, 2 interfaces and a secrets block: DTLS"),
    Seed(
        "tls12-keylog",
        "tls-decryption/tls12-decryption.pcap",
        "pcap, TLS 1.2 with its key log (decrypted)",
        keylog="tls-decryption/tls12-decryption.keylog",
    ),
    Seed(
        "tls13-keylog",
        "",
        "pcap, TLS 1.3 key update with its key log (decrypted)",
        local="pcaps/tlsloop/tls13-chacha-keyupdate.pcap",
        keylog="pcaps/tlsloop/tls13-chacha-keyupdate.keylog",
    ),
    Seed(
        "dtls12-keylog",
        "",
        "pcap, DTLS 1.2 CCM_8 with its key log (decrypted)",
        local="pcaps/dtlsloop/dtls12-ccm8.pcap",
        keylog="pcaps/dtlsloop/dtls12-ccm8.keylog",
    ),
)
KINDS = (*capmutate.MUTATORS, "gzip")  # every seed; "keylog" for seeds with one; "jumbo" once per format
JUMBO_SEEDS = ("aria-ether", "steam-4idb", "dtls-dsb")


@dataclass(frozen=True)
class Case:
    index: int
    seed: str
    kind: str
    rep: int
    capture: str  # the seed's path (absolute)
    keylog: str  # the seed's key log, or ""
    recode: str
    workdir: str  # the worker's folder (its store, the case's files)


def seed_path(seed: Seed, shared: Path) -> tuple[str, str]:
    """The seed's capture and key log, absolute."""
    if seed.local:
        return str(PROJECT / seed.local), str(PROJECT / seed.keylog) if seed.keylog else ""
    return str(shared / seed.shared), str(shared / seed.keylog) if seed.keylog else ""


def make_cases(paths: dict[str, tuple[str, str]], reps: int, workdir: str) -> list[Case]:
    """Each seed as it is (kind ``seed``), then every (seed, kind) ``reps`` times, then the jumbo
    cases: each case's bytes follow from its seed, kind and repetition alone."""
    out: list[Case] = []

    def add(seed: Seed, kind: str, rep: int) -> None:
        cap, key = paths[seed.name]
        out.append(Case(len(out), seed.name, kind, rep, cap, key, seed.recode, workdir))

    for seed in SEEDS:
        add(seed, "seed", 0)
    for rep in range(reps):
        for seed in SEEDS:
            for kind in (*KINDS, "keylog") if seed.keylog else KINDS:
                add(seed, kind, rep)
    for name in JUMBO_SEEDS:
        add(next(s for s in SEEDS if s.name == name), "jumbo", 0)
    return out


def seed_bytes(capture: str, recode: str) -> bytes:
    """The seed as mutations see it: the file, or the nanosecond pcap made from its packets."""
    data = Path(capture).read_bytes()
    if recode == "nano":
        packets = [(ts, bytes(frame)) for batch in read_batches(capture) for ts, _lt, _w, frame in batch]
        buf = io.BytesIO()
        cw.write_pcap(buf, packets, _linktype(data), nano=True)
        data = buf.getvalue()
    return data


def _linktype(pcap: bytes) -> int:
    lay = capmutate.layout(pcap)
    return int.from_bytes(pcap[20:24], "little" if lay.order == "<" else "big")


def build(case: Case) -> tuple[bytes, str, bytes | None]:
    """The case's capture bytes, its file suffix, and its key log's bytes (None: no key log)."""
    rng = random.Random(f"{case.seed}/{case.kind}/{case.rep}")
    data = seed_bytes(case.capture, case.recode)
    keylog = Path(case.keylog).read_bytes() if case.keylog else None
    suffix = ".pcapng" if data[:4] == b"\x0a\x0d\x0d\x0a" else ".pcap"
    if case.kind == "seed":
        pass
    elif case.kind == "keylog":
        assert keylog is not None
        keylog = capmutate.keylog_corrupt(keylog, rng)
    elif case.kind == "jumbo":
        return capmutate.jumbo_gzip(data, rng), suffix + ".gz", keylog
    elif case.kind == "gzip":
        return capmutate.gzip_corrupt(data, rng), suffix + ".gz", keylog
    else:
        data = capmutate.mutate(data, case.kind, rng)
    if case.recode == "gzip":
        return gzip.compress(data, mtime=0), suffix + ".gz", keylog
    return data, suffix, keylog


# ---- in the worker ----------------------------------------------------------------------------

_STATE: dict[str, Any] = {}


def prepare(workdir: str) -> None:
    """At the worker's start: the imports and the store (not counted in the first case's time)."""
    import appliance.cli.main  # noqa: F401  (the CLI's error classes, and all it imports)

    _store(workdir)


def _store(workdir: str) -> Any:
    if "store" not in _STATE:
        from appliance.store.backends import open_store

        folder = tempfile.mkdtemp(prefix=f"worker-{os.getpid()}-", dir=workdir)
        store = open_store(os.path.join(folder, "db"))
        store.ensure_schema()
        _STATE.update(store=store, folder=folder)
    return _STATE["store"]


def run_case(case: Case) -> dict[str, Any]:
    """Replay one case as ``tapaudit replay [--keylog K] FILE`` would; the outcome as the CLI's."""
    from appliance.cli.common import Fail, pipeline_settings
    from appliance.cli.main import user_error
    from appliance.ingest.replay import ReplayOptions, replay

    store = _store(case.workdir)
    data, suffix, keylog = build(case)
    stem = os.path.join(_STATE["folder"], f"case-{case.index}")
    capture = stem + suffix
    Path(capture).write_bytes(data)
    keylogs = []
    if keylog is not None:
        Path(stem + ".keylog").write_bytes(keylog)
        keylogs = [stem + ".keylog"]
    out: dict[str, Any] = {"bytes": len(data)}
    try:
        _bench, prefixes, codes = pipeline_settings(None, None, None)
        # --force: a case whose capture bytes repeat an earlier case's (a damaged key log with an
        # intact capture) is read again, not skipped as already stored
        opts = ReplayOptions(lan_prefixes=prefixes, home=codes, keylogs=keylogs, force=True)
        res = replay(store, capture, opts)
    except Exception as exc:  # the CLI's own sorting: a user error exits 1 in one line
        if isinstance(exc, Fail) or user_error(exc):
            out.update(status="user_error", detail=f"{type(exc).__name__}: {exc}")
        else:
            out.update(status="internal", detail=traceback.format_exc())
    else:
        out.update(packets=res.packets, decrypted=res.tls.get("decrypted", 0), replay=res.status)
        if store.capture_status(res.capture_id) != "complete":
            out.update(
                status="internal", detail=f"replay returned but capture {res.capture_id} is not committed"
            )
        else:
            out.update(status="truncated" if res.truncated else "ok", detail=res.read_error)
    finally:
        for f in (capture, stem + ".keylog"):
            if os.path.exists(f):
                os.unlink(f)
    return out


# ---- the run's summary --------------------------------------------------------------------------

BAD = ("internal", "hang", "memory", "crash")  # what the fuzzer fails on; the rest is the CLI's exit 0 or 1


def _where(detail: str) -> str:
    """The innermost frame of tapaudit's own code in a traceback (file:line function), or ""."""
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', detail)
    ours = [
        f for f in frames if f[0].startswith(str(PROJECT)) and "/tests/" not in f[0] and "/.venv/" not in f[0]
    ]
    if not ours:
        return ""
    path, line, fn = ours[-1]
    return f"{os.path.relpath(path, PROJECT)}:{line} {fn}"


def summarize(
    cases: list[Case], results: list[dict[str, Any]], seconds: float, workers: int
) -> dict[str, Any]:
    """Counts by outcome, the case mix (kind and seed by outcome), the peak RSS and its case, and
    each failure with the first and last line that locate it."""
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    by_seed: dict[str, Counter[str]] = defaultdict(Counter)
    for c, r in zip(cases, results, strict=True):
        by_kind[c.kind][r["status"]] += 1
        by_seed[c.seed][r["status"]] += 1
    top = max(range(len(results)), key=lambda i: results[i]["rss_kb"])
    failures = [
        dict(index=c.index, seed=c.seed, kind=c.kind, rep=c.rep, status=r["status"],
             where=_where(r["detail"]), error=r["detail"].strip().splitlines()[-1][:300])
        for c, r in zip(cases, results, strict=True)
        if r["status"] in BAD
    ]  # fmt: skip
    return {
        "cases": len(cases),
        "mutated": sum(1 for c in cases if c.kind != "seed"),
        "workers": workers,
        "seconds": round(seconds, 1),
        "outcomes": dict(Counter(r["status"] for r in results)),
        "max_rss_mib": round(results[top]["rss_kb"] / 1024, 1),
        "max_rss_case": f"{cases[top].seed}/{cases[top].kind}/{cases[top].rep}",
        "max_rss_mib_of_passing": round(
            max(r["rss_kb"] for r in results if r["status"] not in BAD) / 1024, 1
        ),
        "slowest_s": round(max(r["seconds"] for r in results), 2),
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "by_seed": {k: dict(v) for k, v in sorted(by_seed.items())},
        "failures": failures,
    }


def render(s: dict[str, Any]) -> str:
    """The summary as text: the totals, one line per kind and per seed, then the failures."""
    cols = ("ok", "truncated", "user_error", *BAD)
    lines = [
        f"replay fuzz: {s['cases']} cases ({s['mutated']} mutated) on {s['workers']} workers "
        f"in {s['seconds']} s; "
        f"peak RSS {s['max_rss_mib']} MiB ({s['max_rss_case']}), {s['max_rss_mib_of_passing']} MiB of "
        f"the cases that passed; slowest case {s['slowest_s']} s",
        f"{'':16}" + "".join(f"{c:>11}" for c in cols),
    ]
    for title in ("by_kind", "by_seed"):
        for name, counts in s[title].items():
            lines.append(f"{name:16}" + "".join(f"{counts.get(c, 0):>11}" for c in cols))
        lines.append("")
    lines += [f"#{f['index']} {f['seed']}/{f['kind']}/{f['rep']} {f['status']}: {f['where']} {f['error']}"
              for f in s["failures"]]  # fmt: skip
    return "\n".join(lines)
