"""Fixtures only (helpers live in ``tests/support``): a fresh embedded store, a real ClickHouse server."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests.support` and the packages, from any cwd


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/expected from what tapaudit prints now (then read the diff)",
    )


@pytest.fixture(scope="session", autouse=True)
def masking_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never read or make the real ~/.config/tapaudit/masking.key: every test process (and
    the tapaudit commands it runs, which inherit the environment) uses a key file of its own."""
    path = tmp_path_factory.mktemp("masking-key") / "masking.key"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TAPAUDIT_MASKING_KEY_FILE", str(path))
        mp.delenv("TAPAUDIT_MASKING_KEY", raising=False)
        yield path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[object]:
    from appliance.store.backends import open_store

    s = open_store(str(tmp_path / "db"))
    s.ensure_schema()
    yield s
    s.close()


@pytest.fixture(scope="session")
def ch_server() -> Iterator[object]:
    from tests.support.chserver import binary, running_server

    if binary() is None:
        if os.environ.get("CI"):
            pytest.fail("clickhouse-server is not installed; make test installs it")
        pytest.skip("clickhouse-server not installed")
    with running_server() as srv:
        yield srv


@pytest.fixture(scope="session")
def tls_lab(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """Every scenario of tests/support/tlslab.py built once per session: (folder, truth by name)."""
    from tests.support.tlslab import build

    out = tmp_path_factory.mktemp("tlslab")
    return out, dict(build(out))


# What a marked test needs, and how to tell it is there. Missing, the test fails in CI (where
# `make test` installs and runs everything: a skip there would hide an untested mode) and is
# skipped elsewhere, with the reason.
NEEDS = {
    "root": (lambda: os.geteuid() == 0, "needs root (network namespaces, CAP_NET_RAW)"),
    "tshark": (lambda: shutil.which("tshark") is not None, "needs Debian's tshark (scripts/ensure-debs.sh)"),
}


def pytest_runtest_setup(item: pytest.Item) -> None:
    for name, (present, why) in NEEDS.items():
        if item.get_closest_marker(name) is not None and not present():
            if os.environ.get("CI"):
                pytest.fail(f"{why}; CI must run it", pytrace=False)
            pytest.skip(why)
