"""Server store URLs: timeouts as query options (a live capture on a flaky link wants short ones),
one-line errors for what is not understood."""

from __future__ import annotations

import time

import pytest

from appliance.store.backends import StoreError, open_store
from tests.support.chserver import free_port


def test_unknown_option_is_refused() -> None:
    with pytest.raises(StoreError, match="unknown store URL option 'timeout'"):
        open_store("clickhouse://127.0.0.1:9000/db?timeout=3")
    with pytest.raises(StoreError, match="not a number of seconds"):
        open_store("clickhouse://127.0.0.1:9000/db?connect_timeout=soon")


def test_a_short_connect_timeout_fails_fast_in_one_line() -> None:
    port = free_port()  # nothing listens there
    t = time.monotonic()
    with pytest.raises(StoreError) as exc:
        open_store(f"clickhouse://127.0.0.1:{port}/db?connect_timeout=0.5&send_receive_timeout=2")
    assert time.monotonic() - t < 3
    assert "\n" not in str(exc.value) and str(port) in str(exc.value)
