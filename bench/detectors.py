"""Personal-data detectors' CPU per record, on the detector-heavy capture (issue 20, point 2).

The capture is replayed once with its bench file, keeping every record the observer is handed;
then the observer (``appliance.ingest.observe``: detectors, then observation rows) and the
detectors alone (``parsers.detect.scan``) run over those records again, ``--rounds`` times, and
the median CPU time per record is printed. libphonenumber's verdicts, kept per number, are
forgotten before each round, as a replay starts without them. To compare two versions of the
code, run this under each (``PYTHONPATH=<other checkout>``), alternating, and compare medians.

    python -m pcaps.synth.generate_detect --packets 20000 --out /tmp/detect-20000.pcap
    python bench/detectors.py /tmp/detect-20000.pcap --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def collect(pcap: Path) -> tuple[Any, list[Any], list[tuple[Any, tuple[Any, ...]]]]:
    """(the observer, the records it was handed, the detector calls it made) of one replay of
    ``pcap`` with its bench file."""
    from appliance.ingest import observe
    from appliance.ingest.replay import ReplayOptions, replay
    from appliance.lab.bench import load_bench
    from appliance.store.backends import open_store

    bench = load_bench(str(pcap.with_suffix(".bench.yaml")))
    seen: list[Any] = []
    observers: list[Any] = []
    calls: list[tuple[Any, tuple[Any, ...]]] = []
    plain, scans = observe.Observer.observe, (observe.scan, observe.scan_leaves)

    def spy(fn: Any) -> Any:
        def call(*args: Any) -> Any:
            calls.append((fn, args))
            return fn(*args)

        return call

    def keep(self: Any, rec: Any) -> Any:
        seen.append(rec)
        if not observers:
            observers.append(self)
        return plain(self, rec)

    observe.Observer.observe = keep  # type: ignore[method-assign]
    observe.scan, observe.scan_leaves = spy(scans[0]), spy(scans[1])
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"{tmp}/db")
        try:
            store.ensure_schema()
            replay(store, str(pcap), ReplayOptions(lan_prefixes=bench.lan_prefixes, bench=bench, force=True))
        finally:
            store.close()
            observe.Observer.observe = plain  # type: ignore[method-assign]
            observe.scan, observe.scan_leaves = scans
    return observers[0], seen, calls


def timed(fn: Any, records: list[Any], rounds: int) -> float:
    """Median CPU seconds of one pass of ``fn`` over the records."""
    from parsers.detect import identifiers

    times = []
    for _ in range(rounds):
        forget = getattr(identifiers._phone_ok, "cache_clear", None)
        if forget is not None:
            forget()
        start = time.process_time()
        for rec in records:
            fn(rec)
        times.append(time.process_time() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument(
        "capture", type=Path, help="a capture of pcaps.synth.generate_detect (its bench file beside it)"
    )
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args(argv)
    if not a.capture.is_file() or not a.capture.with_suffix(".bench.yaml").is_file():
        print(f"error: {a.capture} or its .bench.yaml is missing", file=sys.stderr)
        return 2
    observer, records, calls = collect(a.capture)
    whole = timed(observer.observe, records, a.rounds)
    rows = sum(len(observer.observe(r)) for r in records)
    alone = timed(lambda call: call[0](*call[1]), calls, a.rounds)
    print(f"code: {Path(observer.observe.__code__.co_filename).parent.parent}")
    print(f"records {len(records)}, observation rows {rows}, detector calls {len(calls)}")
    print(
        f"observe (detectors and rows): {1e6 * whole / len(records):.1f} us per record, median of {a.rounds}"
    )
    print(f"detectors alone (scan, scan_leaves): {1e6 * alone / len(records):.1f} us per record")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
