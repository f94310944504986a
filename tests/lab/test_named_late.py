"""A capture read while its sha256 is still being computed (issue 20, point 3): `tapaudit replay`
hashes in a thread (``Prehash``) and no longer waits for it before reading, with one process or
with workers. The rows built before the name is known are held and get it; what is stored is what
a replay named first stores, row by row; a capture found stored already once named is skipped
with nothing written, the workers stopped.

The hash is held back by a gate (the real hash, once let through), so reading before the name is
certain, not a race the test hopes to win."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.ingest import parallel, pipeline, sources
from appliance.ingest import replay as replay_mod
from appliance.ingest.pipeline import Pipeline
from appliance.ingest.replay import replay
from appliance.ingest.sources import Prehash, sha256_file
from tests.lab.test_parallel_replay import _assert_same, _tables
from tests.support.paths import LAB
from tests.support.run import lab_options

CAPTURE = str(LAB / "lab.pcapng")


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The hashing thread (``Prehash``) waits for the gate; drains every 1,000 packets, so rows are
    built early."""
    opened = threading.Event()
    real = sources.hash_and_identity

    def held(path: str, chunk: int | None = None) -> tuple[str, str]:
        if threading.current_thread().name == "capture sha256":  # the hashing thread's, not a reference's
            assert opened.wait(60), "the gate was never opened"
        return real(path, chunk)

    monkeypatch.setattr(sources, "hash_and_identity", held)
    monkeypatch.setattr(replay_mod, "DRAIN_EVERY", 1000)
    # full batches written (so held) before the name too, in this process and in workers
    monkeypatch.setattr(pipeline, "BATCH_ROWS", 100)
    monkeypatch.setattr(pipeline, "WORKER_BATCH_ROWS", 100)
    yield opened
    opened.set()  # a thread still waiting ends


@pytest.fixture
def unnamed_drains(monkeypatch: pytest.MonkeyPatch, gate: threading.Event) -> list[int]:
    """Rows built (pending a batch or held) at each drain in this process (one-process replays)
    before the capture was named; the gate opens after the third."""
    seen: list[int] = []
    drain = Pipeline.drain

    def counted(self: Pipeline, final: bool = False, flush: bool = False) -> None:
        if not self.cid:
            seen.append(sum(map(len, self.pending.values())) + sum(len(r) for _t, r in self._held))
            if len(seen) == 3:
                gate.set()
        drain(self, final, flush)

    monkeypatch.setattr(Pipeline, "drain", counted)
    return seen


@pytest.fixture
def forked_unnamed(monkeypatch: pytest.MonkeyPatch, gate: threading.Event) -> list[bool]:
    """Whether the workers were forked before the capture was named; the gate opens 1 s later."""
    seen: list[bool] = []
    run = parallel.run

    def recorded(store: Any, pipe: Pipeline, src: Any, *args: Any) -> Any:
        seen.append(not src.hashes)
        threading.Timer(1.0, gate.set).start()
        return run(store, pipe, src, *args)

    monkeypatch.setattr(parallel, "run", recorded)
    return seen


def _reference(store: Any) -> dict[str, list[str]]:
    opts = lab_options()
    opts.jobs = 1
    res = replay(store, CAPTURE, opts)  # no hashing thread: named before anything is read
    assert res.status == "ingested"
    return _tables(store, res.capture_id)


def _ingests(store: Any) -> set[int]:
    rows = store.query("SELECT DISTINCT ingest_id FROM {db}.flows")
    return {int(r["ingest_id"]) for r in rows}


def test_one_process_reads_before_the_name_and_stores_the_same(store: Any, unnamed_drains: list[int]) -> None:
    want = _reference(store)
    opts = lab_options()
    opts.jobs, opts.prehash = 1, Prehash([CAPTURE])
    res = replay(store, CAPTURE, opts)
    assert res.status == "ingested" and res.capture_id == sha256_file(CAPTURE)
    assert len(unnamed_drains) >= 3 and max(unnamed_drains) > 0  # rows were built, and held
    _assert_same(want, _tables(store, res.capture_id))


def test_workers_start_before_the_name_and_store_the_same(store: Any, forked_unnamed: list[bool]) -> None:
    want = _reference(store)
    opts = lab_options()
    opts.jobs, opts.prehash = 2, Prehash([CAPTURE])
    res = replay(store, CAPTURE, opts)
    assert forked_unnamed == [True]
    assert res.status == "ingested" and res.jobs == 2 and res.serial_because == []
    assert res.capture_id == sha256_file(CAPTURE)
    _assert_same(want, _tables(store, res.capture_id))


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_capture_named_late_and_stored_already_is_skipped_with_nothing_written(
    store: Any, jobs: int, unnamed_drains: list[int], forked_unnamed: list[bool]
) -> None:
    want = _reference(store)
    before = _ingests(store)
    opts = lab_options()
    opts.force, opts.jobs, opts.prehash = False, jobs, Prehash([CAPTURE])
    res = replay(store, CAPTURE, opts)
    assert res.status == "skipped" and res.capture_id == sha256_file(CAPTURE)
    assert (len(unnamed_drains) >= 3) if jobs == 1 else forked_unnamed == [True]
    assert _ingests(store) == before  # no row of the skipped run anywhere
    _assert_same(want, _tables(store, res.capture_id))


def test_a_capture_changed_while_hashed_is_refused_with_nothing_written(
    store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hash, finished while the capture is read, says the file changed: the one-line error,
    and nothing of the run stored."""
    from parsers.capture import CaptureError

    copy = tmp_path / "lab.pcapng"
    copy.write_bytes(Path(CAPTURE).read_bytes())

    def changed(path: str, chunk: int | None = None) -> tuple[str, str]:
        raise sources.CaptureChanged(path, "", "0" * 64)

    monkeypatch.setattr(sources, "hash_and_identity", changed)
    monkeypatch.setattr(replay_mod, "DRAIN_EVERY", 1000)
    for jobs in (1, 2):
        opts = lab_options()
        opts.jobs, opts.prehash = jobs, Prehash([str(copy)])
        with pytest.raises(CaptureError, match="changed while it was read"):
            replay(store, str(copy), opts)
    assert _ingests(store) == set()


def test_a_worker_killed_before_the_name_fails_the_replay_at_once(
    store: Any, monkeypatch: pytest.MonkeyPatch, gate: threading.Event
) -> None:
    """A worker killed while the capture is still being hashed: the replay ends with whose worker
    it was, without waiting for the hash, and no worker is left running."""
    import multiprocessing as mp
    import os
    import signal

    monkeypatch.setattr(parallel, "_worker", lambda *_a: os.kill(os.getpid(), signal.SIGKILL))
    opts = lab_options()
    opts.jobs, opts.prehash = 2, Prehash([CAPTURE])
    with pytest.raises(parallel.WorkerFailed, match=r"replay worker [01] ended without a result"):
        replay(store, CAPTURE, opts)
    assert not gate.is_set()  # the hash was never let through: nothing waited for it
    assert not mp.active_children() and _ingests(store) == set()


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_file_that_appears_after_the_hashing_began_is_hashed_then(
    store: Any, tmp_path: Path, jobs: int, gate: threading.Event
) -> None:
    """A capture folder that gains a rotated file between the CLI's check of the paths (which
    named the files to hash) and the replay: the new file is hashed when the capture is named,
    and the replay ends (it once polled, with its workers waiting, for a hash nobody computed)."""
    import signal

    folder = tmp_path / "ring"
    folder.mkdir()
    (folder / "a.pcapng").write_bytes(Path(CAPTURE).read_bytes())
    pre = Prehash(sources.expand_inputs(str(folder)))
    (folder / "b.pcapng").write_bytes(Path(CAPTURE).read_bytes())
    gate.set()
    opts = lab_options()
    opts.jobs, opts.prehash = jobs, pre
    signal.signal(signal.SIGALRM, lambda *_a: pytest.fail("the replay hung waiting for a hash"))
    signal.alarm(60)
    try:
        res = replay(store, str(folder), opts)
    finally:
        signal.alarm(0)
    assert res.status == "ingested" and len(res.files) == 2
    assert res.capture_id == sources.PcapSource(str(folder)).capture_id
