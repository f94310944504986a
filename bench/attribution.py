"""How much of a capture's traffic is attributed to a device: devices found and % of flows with one.

    python bench/attribution.py [--lan CIDR ...] CAPTURE [CAPTURE ...]

Each capture goes through the ingest pipeline (no store: the rows are counted as they are made) and
one line per capture is printed as JSON: flows, flows with a device (``device_mac`` not empty),
their share, flows left as transit, devices found (role ``device``) and how each was attributed
(``devices.attributed_by``, when the schema has it). The figures of issue 15's attribution work
(devices without MAC addresses, the LAN learnt from the capture) are measured with it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.ingest.pipeline import Pipeline
from appliance.ingest.sources import PcapSource
from appliance.lab.phases import Phases
from appliance.store.schema import DEVICES, FLOWS
from parsers.lan import DEFAULT_LAN, LanPrefixes


def measure(path: str, lan: list[str] | None = None) -> dict[str, Any]:
    """The attribution figures of one capture."""
    flows: list[tuple[Any, ...]] = []

    def write(table: str, rows: list[tuple[Any, ...]]) -> None:
        if table == "flows":
            flows.extend(rows)

    src = PcapSource(path)
    prefixes = LanPrefixes(lan or DEFAULT_LAN, learn=not lan)  # no --lan: learnt, as a replay does
    pipe = Pipeline(src.capture_id, 0, write, lan=prefixes, idle_s=120.0, active_s=1800.0, bench=None,
                    home=("CN",), hash_key=b"k" * 32, raw_evidence=False, phases=Phases())  # fmt: skip
    for batch in src.batches():
        pipe.feed_many(batch)
        pipe.drain()
    pipe.finish()
    devices, _ = pipe.device_rows()
    fcol = {c: i for i, c in enumerate(FLOWS.names)}
    dcol = {c: i for i, c in enumerate(DEVICES.names)}
    owned = sum(1 for r in flows if r[fcol["device_mac"]])
    transit = sum(1 for r in flows if r[fcol["direction"]] == "transit")
    real = [d for d in devices if d[dcol["role"]] == "device"]
    rules = Counter(str(d[dcol["attributed_by"]]) for d in real) if "attributed_by" in dcol else Counter()
    return {
        "capture": path,
        "link_types": sorted(src.stats.link_types),
        "flows": len(flows),
        "attributed": owned,
        "attributed_pct": round(100 * owned / len(flows), 1) if flows else 0.0,
        "transit": transit,
        "devices": len(real),
        "attributed_by": dict(sorted(rules.items())),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("captures", nargs="+")
    ap.add_argument("--lan", action="append", help="LAN prefix (repeatable; default: the private ranges)")
    args = ap.parse_args(argv)
    for path in args.captures:
        print(json.dumps(measure(path, args.lan)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
