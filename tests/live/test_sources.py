"""Capture files and a live interface are the same ``Source`` to the pipeline."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from appliance.ingest.sources import PcapSource, Source
from appliance.live.source import LiveSource
from tests.support.paths import LAB


def test_capture_file_is_a_source() -> None:
    path = LAB / "lab.pcapng"
    src = PcapSource(str(path))
    assert isinstance(src, Source)
    assert src.capture_id == hashlib.sha256(path.read_bytes()).hexdigest()
    truth = yaml.safe_load((LAB / "lab.truth.yaml").read_text())
    assert sum(len(b) for b in src.batches()) == truth["packets"]
    src.close()


@pytest.mark.root
def test_live_interface_is_a_source() -> None:
    src = LiveSource("lo", timeout_ms=20)
    assert isinstance(src, Source)
    assert len(src.capture_id) == 64 and src.started_ns > 0
    batches = src.batches(16)
    assert isinstance(next(batches), list)  # a quiet loopback gives [] after the timeout
    src.close()
    assert list(batches) == []  # closed: the batches end
