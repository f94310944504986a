"""The dashboard's settings file: ``dashboards/settings.toml`` in the checkout, else
``~/.config/tapaudit/dashboard.toml`` (or the file named by env TAPAUDIT_DASHBOARD_SETTINGS).

    # dashboard.toml
    password = "a long passphrase"   # required to serve on an address other than loopback

Without a password the dashboard only binds to 127.0.0.1 / ::1 / localhost.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent / "dashboards"  # the settings file sits beside the app


def settings_paths() -> list[Path]:
    env = os.environ.get("TAPAUDIT_DASHBOARD_SETTINGS")
    if env:
        return [Path(env)]
    return [HERE / "settings.toml", Path.home() / ".config" / "tapaudit" / "dashboard.toml"]


def load_settings() -> dict[str, Any]:
    """The first settings file that exists, parsed; {} when there is none."""
    for p in settings_paths():
        if p.is_file():
            with p.open("rb") as fh:
                return tomllib.load(fh)
    return {}


def password() -> str:
    value = load_settings().get("password", "")
    return value if isinstance(value, str) else ""


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
