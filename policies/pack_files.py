"""Where the rule packs are and their names, without loading the engine or its checks.

Apart from ``engine`` so that `tapaudit assess --help` can list the packs and start in a fraction
of a second (issue 18, point 6); ``engine`` re-exports both.
"""

from __future__ import annotations

from pathlib import Path

PACKS_DIR = Path(__file__).with_name("packs")


def pack_names() -> list[str]:
    """Every pack's name: its file's stem in ``policies/packs``."""
    return sorted(p.stem for p in PACKS_DIR.glob("*.yaml"))
