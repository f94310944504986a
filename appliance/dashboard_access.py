"""Who may use the dashboard: its settings file, the password's minimum length, and the throttle of
failed logins.

The settings file is ``dashboards/settings.toml`` in the checkout, else
``~/.config/tapaudit/dashboard.toml`` (or the file named by env TAPAUDIT_DASHBOARD_SETTINGS):

    # dashboard.toml
    password = "a long passphrase"   # required to serve on an address other than loopback

Without a password the dashboard only binds to 127.0.0.1 / ::1 / localhost; with one shorter than
``MIN_PASSWORD`` characters it refuses to serve beyond loopback too. A settings file that is not
TOML, or whose password is not text, is a one-line ``SettingsError`` (exit 1 from the command).

Failed logins are throttled (``LoginThrottle``), per client address and over all clients: after
``FREE_TRIES`` failures each further try must wait twice as long as the one before, and a try made
before its time is refused without checking the password (the right one too), so 15 wrong tries
from one address take at least 1+2+...+512 s instead of the 6.5 s measured in issue 17.
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent / "dashboards"  # the settings file sits beside the app
# OWASP ASVS 4.0.3, V2.1.1: passwords set by a user are at least 12 characters long.
MIN_PASSWORD = 12
# NIST SP 800-63B section 5.2.2 asks for a limit on failed attempts; these make 15 wrong tries from
# one client cost 1023 s, and any number of clients share the global budget of GLOBAL_FREE_TRIES.
FREE_TRIES = 5  # wrong passwords a client may type before any wait
GLOBAL_FREE_TRIES = 20  # wrong passwords over all clients before every client waits
BASE_DELAY_S = 1.0  # the first wait; each further failure doubles it
MAX_DELAY_S = 900.0  # a client never waits more than 15 minutes for its next try
FORGET_AFTER_S = 3600.0  # an hour without a failure forgets a client's (or everyone's) failures


class SettingsError(Exception):
    """The settings file is unreadable, not TOML, or holds a password that is not text (one line)."""


def settings_paths() -> list[Path]:
    env = os.environ.get("TAPAUDIT_DASHBOARD_SETTINGS")
    if env:
        return [Path(env)]
    return [HERE / "settings.toml", Path.home() / ".config" / "tapaudit" / "dashboard.toml"]


def load_settings() -> dict[str, Any]:
    """The first settings file that exists, parsed; {} when there is none. SettingsError (one line
    naming the file, and the line of the problem) when it cannot be read or is not TOML."""
    for p in settings_paths():
        if p.is_file():
            try:
                with p.open("rb") as fh:
                    return tomllib.load(fh)
            except OSError as exc:
                raise SettingsError(f"settings file {p}: {exc.strerror or exc}") from None
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise SettingsError(f"settings file {p}: not TOML ({first})") from None
    return {}


def settings_file() -> Path | None:
    """The settings file in use, if any."""
    return next((p for p in settings_paths() if p.is_file()), None)


def password() -> str:
    """The dashboard's password ('' when none is set); SettingsError for a bad settings file."""
    value = load_settings().get("password", "")
    if not isinstance(value, str):
        raise SettingsError(f"settings file {settings_file()}: password must be a quoted string")
    return value


def password_problem(secret: str) -> str | None:
    """Why this password may not guard a dashboard served beyond loopback, or None."""
    if not secret:
        return "no password is set"
    if len(secret) < MIN_PASSWORD:
        return f"the password has {len(secret)} characters, at least {MIN_PASSWORD} are needed"
    return None


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0


class LoginThrottle:
    """Failed logins per client and over all clients, and how long each must wait before its next
    try (``wait``). Thread-safe: Streamlit serves every session from threads of one process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: dict[str, _Failures] = {}
        self._all = _Failures()

    @staticmethod
    def _delay(f: _Failures, free: int) -> float:
        over = f.count - free
        return 0.0 if over < 0 else min(BASE_DELAY_S * 2.0**over, MAX_DELAY_S)

    def _fresh(self, f: _Failures, now: float) -> _Failures:
        return _Failures() if f.count and now - f.last > FORGET_AFTER_S else f

    def wait(self, client: str) -> float:
        """Seconds before ``client`` may try a password again (0: now)."""
        with self._lock:
            now = self._clock()
            mine = self._clients[client] = self._fresh(self._clients.get(client, _Failures()), now)
            self._all = self._fresh(self._all, now)
            due = max(
                mine.last + self._delay(mine, FREE_TRIES),
                self._all.last + self._delay(self._all, GLOBAL_FREE_TRIES),
            )
            return max(0.0, due - now)

    def failed(self, client: str) -> None:
        with self._lock:
            now = self._clock()
            mine = self._clients.setdefault(client, _Failures())
            mine.count, mine.last = mine.count + 1, now
            self._all.count, self._all.last = self._all.count + 1, now

    def succeeded(self, client: str) -> None:
        """A right password forgets the client's failures (not everyone's)."""
        with self._lock:
            self._clients.pop(client, None)


THROTTLE = LoginThrottle()  # the dashboard process's one throttle, shared by all its sessions
