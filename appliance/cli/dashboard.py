"""`tapaudit dashboard`: the Streamlit dashboard (dashboards/app.py) on the stored captures.

Binds to 127.0.0.1 unless told otherwise; any address other than loopback needs a password in
the dashboard's settings file (dashboards/settings.toml, else ~/.config/tapaudit/dashboard.toml),
at least ``MIN_PASSWORD`` (12) characters long; a settings file that is not TOML stops the command
in one line (exit 1):

    password = "a long passphrase"

Streamlit's toolbar is kept to the minimum (``client.toolbarMode minimal``): a lab appliance has no
"Deploy" button or developer options to offer (issue 18 point 4); .streamlit/config.toml says the
same for a bare ``streamlit run`` from the repository.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from appliance.cli.common import DbOpt, Fail
from appliance.dashboard_access import (
    MIN_PASSWORD,
    SettingsError,
    is_loopback,
    password,
    password_problem,
    settings_file,
    settings_paths,
)
from appliance.store.backends import DEFAULT_DB

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"


def dashboard_command(db: str | None, host: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The streamlit command line and its environment; Fail when the address is not allowed."""
    if not 1 <= port <= 65535:
        raise Fail(f"--port {port}: not a TCP port")
    env = dict(os.environ)
    env["TAPAUDIT_DB"] = db or os.environ.get("TAPAUDIT_DB") or DEFAULT_DB
    env.pop("TAPAUDIT_DASHBOARD_AUTH", None)
    try:
        secret = password()  # a bad settings file stops the command on any address
    except SettingsError as exc:
        raise Fail(str(exc)) from None
    if not is_loopback(host):
        problem = password_problem(secret)
        if problem:
            where = settings_file() or " or ".join(str(p) for p in settings_paths())
            raise Fail(f"--host {host} is not loopback: {problem}; set a password of at least "
                       f"{MIN_PASSWORD} characters in {where} first")  # fmt: skip
        env["TAPAUDIT_DASHBOARD_AUTH"] = "1"
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", host,
           "--server.port", str(port), "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"]  # fmt: skip
    return cmd, env


def dashboard_cmd(
    db: DbOpt = None,
    port: Annotated[int, typer.Option("--port", help="TCP port to serve on.")] = 8501,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to bind; other than loopback needs a password (settings file)."),
    ] = "127.0.0.1",
) -> None:
    """Serve the dashboard (Streamlit) on the stored captures; Ctrl-C stops it."""
    cmd, env = dashboard_command(db, host, port)
    sys.stdout.flush()
    sys.stderr.flush()
    try:  # become streamlit: signals (Ctrl-C, a service manager's TERM) reach the server itself
        os.execve(sys.executable, cmd, env)
    except OSError as exc:  # pragma: no cover - the interpreter runs this very command
        raise Fail(f"cannot start streamlit: {exc.strerror}") from None


COMMANDS: dict[str, Callable[..., None]] = {"dashboard": dashboard_cmd}
