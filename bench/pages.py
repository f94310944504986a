"""Dashboard page render times in a real browser on the demo data (issue 18, point 6: under 2 s).

Builds `make demo`'s data into a temporary folder (the real captures with the default LAN, the lab
with its bench file and phases, then ``assess`` with the lab's declarations; the masking key in a
temporary file), unless ``--db`` names a folder already built; serves it with ``tapaudit dashboard``
and drives Debian's Chromium with Playwright, as tests/ui/test_browser.py does.

Method: for each page, ``--runs`` times (default 5), the page is chosen in the sidebar's Page radio
(coming from another page, as a person clicks) and the time is taken from the click until Streamlit
has finished: the page's heading (its ``st.header``, which only the new run draws) is shown, no
spinner is left and the app's ``data-test-script-state`` is ``notRunning``. The first run of a page is the
cold one (its queries not cached yet); the median of the runs is reported with it.

    python bench/pages.py [--db FOLDER] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TAPAUDIT = Path(sys.executable).with_name("tapaudit")
LAB = ROOT / "pcaps" / "lab"
CHROMIUM = "/usr/bin/chromium"
PAGES = ("overview", "captures", "device", "destinations", "findings", "flows", "compare")
NAMES = {p: p.capitalize() for p in PAGES}
WAIT_MS = 120_000
# Finished: the page's own heading (h2, st.header) is shown, which only the new run can draw since
# every timed click comes from another page, no spinner is left and the script is not running.
DONE = """(name) => {
  const app = document.querySelector('[data-testid=stApp]');
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid=stSpinner]')) return false;
  return [...document.querySelectorAll('h2')].some(h => h.textContent.trim() === name);
}"""


def build(db: Path) -> None:
    """make demo's replays and assessment, without serving."""
    real = sorted(p for p in (ROOT / "pcaps" / "real").iterdir() if p.suffix in (".pcap", ".pcapng"))
    steps = [
        ["replay", "--db", str(db), "-q", *map(str, real)],
        [
            "replay",
            "--db",
            str(db),
            "-q",
            "--bench",
            str(LAB / "lab.bench.yaml"),
            "--phases",
            str(LAB / "lab.phases.csv"),
            str(LAB / "lab.pcapng"),
        ],
        ["assess", "--db", str(db), "--declaration", str(LAB / "declarations")],
    ]
    for args in steps:
        subprocess.run([str(TAPAUDIT), *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(db: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [str(TAPAUDIT), "dashboard", "--db", str(db), "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return proc, base
        except OSError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit("the dashboard did not become healthy in 90 s")


def _choose(pg: object, page: str) -> float:
    """Click a page in the sidebar and return the seconds until Streamlit has finished rendering it."""
    radio = pg.get_by_test_id("stSidebar").get_by_role("radiogroup", name="Page")  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    radio.get_by_text(NAMES[page], exact=True).click()
    pg.wait_for_function(DONE, arg=NAMES[page], timeout=WAIT_MS, polling=20)  # type: ignore[attr-defined]
    return time.perf_counter() - t0


def measure(base: str, runs: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {p: [] for p in PAGES}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1600, "height": 1000})
        pg.set_default_timeout(WAIT_MS)
        t0 = time.perf_counter()
        pg.goto(base)
        pg.wait_for_function(DONE, arg=NAMES["overview"], timeout=WAIT_MS, polling=20)
        times["first load"] = [time.perf_counter() - t0]  # a new session: Overview from nothing
        for page in PAGES:
            for _ in range(runs):
                away = "captures" if page == "overview" else "overview"
                _choose(pg, away)
                times[page].append(_choose(pg, page))
                print(f"  {page}: {times[page][-1]:.2f} s", file=sys.stderr, flush=True)
        browser.close()
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", type=Path, help="a data folder already built (default: build one)")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pages-bench-") as tmp:
        os.environ.setdefault("TAPAUDIT_MASKING_KEY_FILE", str(Path(tmp) / "masking.key"))
        db = a.db or Path(tmp) / "data"
        if a.db is None:
            t0 = time.perf_counter()
            build(db)
            print(f"demo data built in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        proc, base = serve(db)
        try:
            load0 = os.getloadavg()
            times = measure(base, a.runs)
            load1 = os.getloadavg()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
    print(f"load average before: {load0[0]:.2f}, after: {load1[0]:.2f} (1 min) on {os.cpu_count()} cores")
    print("| page | first (cold) s | median of runs s | max s |")
    print("|---|---|---|---|")
    for page, ts in times.items():
        print(f"| {NAMES.get(page, page)} | {ts[0]:.2f} | {statistics.median(ts):.2f} | {max(ts):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
