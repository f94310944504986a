"""The decryption benchmark's captures: the TLS 1.3 lab (``pcaps.synth.lab_tls``) many times over,
and its clear twin, so one bench can say what decryption costs against the dissection it unlocks
(issue 16, "Speed").

Copy ``k`` is ``lab_tls.build(seed + k, tls)`` shifted in time by ``k`` lab spans (plus a gap longer
than any flow timeout), so no two copies' flows meet and every copy is whole: the same devices
boot, send the same personal data over HTTP/2, HTTP/1.1 and MQTT, each request in a TLS 1.3
connection of its own (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305) whose secrets go to the key
log. ``tls=False`` writes the very same plaintext exchanges in clear at the very same times (the
lab's twin), so ``tls.pcap`` with its key log, ``tls.pcap`` without it and ``clear.pcap`` differ
only in what decryption does.

    python -m pcaps.synth.bench_tls --copies 100 --out-dir bench/out
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from parsers.capture_write import PcapWriter
from pcaps.synth import lab_tls
from pcaps.synth.hosts import T0

GAP_S = 3600.0  # longer than the replay's idle and active flow timeouts, so copies never share a flow


def write(path: Path, copies: int, seed: int, tls: bool) -> tuple[int, int, str]:
    """Write ``copies`` labs to ``path`` (classic pcap, microseconds); returns (packets, TLS
    sessions, key log text). Frames are sorted by time within a copy, as a tap would see them."""
    keylog: list[str] = []
    packets = sessions = 0
    offset = 0.0
    with open(path, "wb") as fh, PcapWriter(fh) as w:
        for k in range(copies):
            lab, sender = lab_tls.build(seed + k, tls=tls)
            frames = sorted(((t, i, bytes(p)) for i, (t, p, _n) in enumerate(lab.frames)))
            for t, _i, data in frames:
                w.write((T0 * 1_000_000 + round((offset + t) * 1_000_000)) * 1000, data)
            packets += len(frames)
            sessions += len(sender.sessions)
            keylog.extend(c.keylog() for c in sender.sessions)
            offset += frames[-1][0] + GAP_S
    return packets, sessions, "".join(keylog)


def generate(out_dir: Path, copies: int, seed: int = 7) -> dict[str, Path]:
    """``tls-N.pcap`` with ``tls-N.keys.log`` and ``clear-N.pcap`` in ``out_dir`` (N = copies);
    made once, reused while they exist."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "tls": out_dir / f"tls-{copies}.pcap",
        "keylog": out_dir / f"tls-{copies}.keys.log",
        "clear": out_dir / f"clear-{copies}.pcap",
    }
    if not (paths["tls"].exists() and paths["keylog"].exists()):
        n, s, keys = write(paths["tls"], copies, seed, tls=True)
        paths["keylog"].write_text(
            f"# pcaps/synth/bench_tls.py: {s} TLS 1.3 sessions of {n} packets\n" + keys
        )
    if not paths["clear"].exists():
        write(paths["clear"], copies, seed, tls=False)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, default=100, help="lab copies (each ~N packets, see the key log)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out-dir", type=Path, default=Path("bench/out"))
    args = ap.parse_args(argv)
    if args.copies < 1:
        print("bench_tls: --copies must be at least 1", file=sys.stderr)
        return 2
    for name, p in generate(args.out_dir, args.copies, args.seed).items():
        print(f"{name}: {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
