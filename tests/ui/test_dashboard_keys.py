"""The dashboard's upload form takes TLS key logs beside captures (issue 16), records them with the
capture (path, sha256) and never shows their content.

Real inputs: a Zeek heise.de TLS 1.2 capture and its key log (../shared/pcaps/tls-decryption).
The app runs in a process of its own (chDB opens one data folder per process); oracles are the
uploaded file's bytes and sha256, and the secret itself, searched for in everything the page showed.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from appliance.store.backends import open_store
from tests.support.paths import ROOT, shared_path

NAME = "tls12-stream-keylog"
SCRIPT = """
import json, sys
from streamlit.testing.v1 import AppTest
pcap, keylog = sys.argv[1], sys.argv[2]
at = AppTest.from_file('dashboards/app.py', default_timeout=120)
at.session_state['page'] = 'captures'
at.run()
at.file_uploader(key='up_caps').set_value(('heise.pcap', open(pcap, 'rb').read(), 'application/octet-stream'))
at.file_uploader(key='up_keys').set_value(('heise.keylog', open(keylog, 'rb').read(), 'text/plain'))
at.button(key='up_go').click().run(timeout=120)
assert not at.exception, at.exception
shown = [e.value for kind in ('success', 'error', 'warning', 'info', 'markdown', 'caption')
         for e in getattr(at, kind)]
shown += [e.value.to_csv() for e in at.dataframe]
print(json.dumps({'success': [e.value for e in at.success], 'error': [e.value for e in at.error],
                  'shown': shown}))
"""


def test_upload_takes_a_key_log_records_it_and_never_shows_it(tmp_path: Path) -> None:
    pcap = shared_path("tls-decryption", f"{NAME}.pcap")
    keylog = shared_path("tls-decryption", f"{NAME}.keylog")
    db = tmp_path / "db"
    env = {**os.environ, "TAPAUDIT_DB": str(db)}
    p = subprocess.run([sys.executable, "-c", SCRIPT, str(pcap), str(keylog)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json.loads(p.stdout.strip().splitlines()[-1])
    assert not doc["error"], doc["error"]
    [ok] = doc["success"]
    assert ok.startswith("Ingested: `heise.pcap`") and "TLS flows" in ok  # file names in code spans
    secret = keylog.read_text().split()[2]
    assert not any(secret in s or secret.upper() in s for s in doc["shown"])
    data = keylog.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    saved = db / "uploads" / sha[:16] / "heise.keylog"
    assert saved.read_bytes() == data and stat.S_IMODE(saved.stat().st_mode) == 0o600
    store = open_store(str(db))
    try:
        rows = store.query("SELECT path, sha256, kind, lines FROM {db}.capture_keys")
    finally:
        store.close()
    assert [(r["path"], r["sha256"], r["kind"], int(r["lines"])) for r in rows] == [
        (str(saved), sha, "tls-keylog", 1)
    ]
