"""Replay-level fuzzing: mutated real captures through ``tapaudit replay``'s own code (issue 17, part 5).

The dissectors are fuzzed one by one in ``tests/parsers/test_fuzz.py``; this fuzzes everything a
capture file goes through together: the readers (pcap, pcapng, gzip), link layers, reassembly,
the flow meter, sessions, dissectors, the TLS and DTLS decryptors (three seeds are replayed with
their key logs, one brings a secrets block), the row builders and the store. Seeds, mutation
kinds and how a case runs are in ``tests/support/replayfuzz.py`` and ``capmutate.py``; the worker
pool, its time and memory limits in ``fuzzpool.py``. Everything is decided by the case's index:
a failure is reproduced by building that case again (``replayfuzz.build``); its bytes are also
saved under ``tests/artifacts/fuzz/``.

Each case must end as the CLI would end it without a bug: exit 0 (read whole, or truncated and
counted) or exit 1 with a one-line error (``CaptureError`` and the other ``USER_ERRORS``). It
fails as ``internal`` (any other exception: exit 70), ``hang`` (no answer in ``TIMEOUT``
seconds), ``memory`` (resident memory past 1 GiB, the README's bound, checked every 50 ms) or
``crash`` (the worker died). CI runs ``TAPAUDIT_FUZZ_REPS=4`` repetitions of every (seed, kind):
699 cases (687 mutated), about 30 s on 2 cores; more repetitions run longer locally. The summary (case mix,
counts, peak RSS) is printed (``-s``) and written to ``tests/artifacts/fuzz/replay-fuzz.json``.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import Any

import dpkt
import pytest

from tests.support import replayfuzz as rf
from tests.support.fuzzpool import run_cases
from tests.support.paths import ARTIFACTS, SHARED, shared_path

pytestmark = pytest.mark.xdist_group("replay-fuzz")  # one run of the pool, shared by the module

REPS = int(os.environ.get("TAPAUDIT_FUZZ_REPS", "4"))
WORKERS = 2
TIMEOUT = 20.0  # seconds for one case: each takes well under 1 s (the 1.1 GiB jumbo ones about 3 s)
RSS_LIMIT_KB = 1 << 20  # 1 GiB
OUT = ARTIFACTS / "fuzz"


@pytest.fixture(scope="module")
def fuzz_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[rf.Case], list[dict[str, Any]], dict[str, Any]]:
    paths = {}
    for seed in rf.SEEDS:
        if seed.shared:
            shared_path(seed.shared)  # missing shared captures: a failure in CI, a skip elsewhere
        paths[seed.name] = rf.seed_path(seed, SHARED)
    workdir = str(tmp_path_factory.mktemp("replay-fuzz"))
    cases = rf.make_cases(paths, REPS, workdir)
    t0 = time.perf_counter()
    results = run_cases(cases, "tests.support.replayfuzz:run_case", WORKERS, TIMEOUT, RSS_LIMIT_KB, workdir)
    summary = rf.summarize(cases, results, time.perf_counter() - t0, WORKERS)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "replay-fuzz.json").write_text(json.dumps(summary, indent=1) + "\n")
    for f in summary["failures"]:  # the failing inputs, to replay by hand
        data, suffix, keylog = rf.build(cases[f["index"]])
        stem = OUT / f"case-{f['index']}-{f['seed']}-{f['kind']}"
        Path(f"{stem}{suffix}").write_bytes(data)
        if keylog is not None:
            Path(f"{stem}.keylog").write_bytes(keylog)
    print("\n" + rf.render(summary))
    return cases, results, summary


def _manifest_packets() -> dict[str, int]:
    with open(SHARED / "MANIFEST.tsv", newline="") as fh:
        return {
            r["local_path"]: int(r["packets"]) for r in csv.DictReader(fh, delimiter="\t") if r["packets"]
        }


def test_seeds_replay_whole(fuzz_run: tuple[list[rf.Case], list[dict[str, Any]], dict[str, Any]]) -> None:
    """Unmutated, every seed replays whole with the packet count capinfos recorded (dpkt counts
    the others), and the key-logged and secrets-block seeds decrypt: so the mutations
    start from inputs that reach the decoders and the decryptors."""
    cases, results, _s = fuzz_run
    counts = _manifest_packets()
    seen = {}
    for c, r in zip(cases, results, strict=True):
        if c.kind != "seed":
            continue
        seed = next(s for s in rf.SEEDS if s.name == c.seed)
        if seed.shared in counts:
            want = counts[seed.shared]
        else:  # the loopback captures and tls-decryption/ (not in the manifest) are classic pcap
            with open(c.capture, "rb") as fh:
                want = sum(1 for _ in dpkt.pcap.Reader(fh))
        seen[c.seed] = (r["status"], r.get("packets"), r.get("decrypted", 0) > 0)
        assert (r["status"], r.get("packets")) == ("ok", want), (c.seed, r)
    assert len(seen) == len(rf.SEEDS)
    decrypting = {name for name, (_st, _n, dec) in seen.items() if dec}
    assert decrypting >= {"tls12-keylog", "tls13-keylog", "dtls12-keylog"}


def test_case_mix(fuzz_run: tuple[list[rf.Case], list[dict[str, Any]], dict[str, Any]]) -> None:
    """At least 600 mutated cases, every kind on every seed, and the mutations do damage: some are
        cut short and counted, some are refused in one line, and mutated TLS still gets decrypted. Every
    case that was read was ingested (none skipped as a capture already stored)."""
    cases, results, s = fuzz_run
    assert s["mutated"] >= 600
    assert {r.get("replay") for r in results if r["status"] in ("ok", "truncated")} == {"ingested"}
    assert {(c.seed, c.kind) for c in cases} >= {(seed.name, k) for seed in rf.SEEDS for k in rf.KINDS}
    assert s["outcomes"].get("truncated", 0) > 50 and s["outcomes"].get("user_error", 0) > 0
    decrypted = [
        c for c, r in zip(cases, results, strict=True) if c.kind not in ("seed",) and r.get("decrypted")
    ]
    assert {c.seed for c in decrypted} >= {"tls12-keylog", "tls13-keylog", "dtls12-keylog"}


def _failures(s: dict[str, Any], status: str) -> list[str]:
    return [f"#{f['index']} {f['seed']}/{f['kind']}/{f['rep']}: {f['where']} {f['error']}"
            for f in s["failures"] if f["status"] == status]  # fmt: skip


def test_no_internal_error(fuzz_run: tuple[list[rf.Case], list[dict[str, Any]], dict[str, Any]]) -> None:
    """No mutated capture ends in a traceback (the CLI's exit 70) or kills its worker."""
    s = fuzz_run[2]
    assert _failures(s, "internal") + _failures(s, "crash") == []


def test_no_hang(fuzz_run: tuple[list[rf.Case], list[dict[str, Any]], dict[str, Any]]) -> None:
    assert _failures(fuzz_run[2], "hang") == []


def test_memory_under_1gib(fuzz_run: tuple[list[rf.Case], list[dict[str, Any]], dict[str, Any]]) -> None:
    """No case's resident memory passes 1 GiB, the jumbo .gz that inflates to 1.1 GiB included."""
    s = fuzz_run[2]
    assert _failures(s, "memory") == [] and s["max_rss_mib"] < 1024


def test_pool_tells_failures_apart() -> None:
    """The pool's verdicts are real: a case that sleeps is a hang, one that raises is internal, one
    that keeps allocating is stopped as memory, a worker that exits is a crash, and the cases
    after each still run in a fresh worker."""
    cases = ["ok", "sleep", "ok", "raise", "grow", "exit", "ok"]
    out = run_cases(cases, "tests.support.fuzzpool:probe", workers=2, timeout=3.0, rss_limit_kb=300 << 10)
    assert [r["status"] for r in out] == ["ok", "hang", "ok", "internal", "memory", "crash", "ok"]
    assert "KeyError: 'probe'" in out[3]["detail"]
    assert out[4]["rss_kb"] > 300 << 10
