"""Reading a capture through pyshark leaves the process able to start asyncio subprocesses.

pyshark 0.6 installs a SafeChildWatcher bound to an event loop it then closes; before the fix, any
later asyncio subprocess in the same process (Playwright's driver in the browser tests that ran
after the confirmation tests on one test worker) failed with "get_child_watcher() is not
activated". Run in a fresh interpreter, so the test sees only what ``read`` leaves behind.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.paths import ROOT

CODE = """
import asyncio, sys
from appliance.findings.tshark_read import read
frames = read(sys.argv[1])
assert frames and frames[0].protocol, frames[:1]

async def child() -> int:
    proc = await asyncio.create_subprocess_exec("true")
    return await proc.wait()

loop = asyncio.new_event_loop()  # as Playwright's sync API runs its loop: never set as current
print(len(frames), loop.run_until_complete(child()))
"""


@pytest.mark.tshark
def test_asyncio_subprocesses_still_start_after_reading() -> None:
    pcap = ROOT / "pcaps" / "dtlsloop" / "dtls12-gcm.pcap"
    p = subprocess.run(
        [sys.executable, "-c", CODE, str(pcap)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split() == ["15", "0"]  # the capture's 15 frames, then the child's exit status
