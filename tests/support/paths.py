"""Where the tests find the checkout, the bundled lab and the shared captures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "pcaps"
SPEC = ROOT.parent / "shared" / "docs" / "requirements-spec.md"
LAB = ROOT / "pcaps" / "lab"
ARTIFACTS = ROOT / "tests" / "artifacts"


def shared_path(*parts: str) -> Path:
    """A file under ../shared/pcaps; missing is a failure in CI and a skip elsewhere."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{p} is missing: CI must run with ../shared beside the clone")
        pytest.skip(f"{p} not present")
    return p
