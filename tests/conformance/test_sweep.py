"""Every capture in ../shared/pcaps (MANIFEST.tsv) replays into the store without a traceback.

The packet count read must equal the count capinfos/tshark recorded in the manifest,
except for captures the reader reports as truncated.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.ingest.replay import ReplayOptions, replay
from appliance.store.backends import Store, open_store
from tests.support.paths import SHARED, shared_path


def manifest() -> list[tuple[str, int]]:
    path = SHARED / "MANIFEST.tsv"
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [(r["local_path"], int(r["packets"])) for r in rows if r["packets"].strip()]


CAPTURES = manifest()


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = open_store(str(tmp_path_factory.mktemp("sweep") / "db"))
    s.ensure_schema()
    yield s
    s.close()


def test_manifest_lists_captures() -> None:
    shared_path("MANIFEST.tsv")
    assert len(CAPTURES) > 1000


@pytest.mark.sweep
@pytest.mark.parametrize(("rel", "packets"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_replay_shared_capture(sweep_store: Store, rel: str, packets: int) -> None:
    path = shared_path(*Path(rel).parts)
    res = replay(sweep_store, str(path), ReplayOptions(force=True))
    assert res.status == "ingested"
    if res.truncated:
        assert res.packets <= packets, res.read_error
    else:
        assert res.packets == packets, f"read {res.packets} packets, manifest says {packets}"
    # the capture is named by its bytes, and every flow the replay counted is stored under that name
    # (the current run only: a manifest may list the same bytes twice)
    assert res.capture_id == hashlib.sha256(path.read_bytes()).hexdigest()
    stored = sweep_store.query(
        "SELECT count() AS n FROM tapaudit.flows WHERE capture_id = %(c)s AND ingest_id = "
        "(SELECT max(ingest_id) FROM tapaudit.captures WHERE capture_id = %(c)s)",
        {"c": res.capture_id},
    )
    assert stored[0]["n"] == res.flows
