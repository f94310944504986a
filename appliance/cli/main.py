"""The ``tapaudit`` command line: the Typer app, its command groups, and errors turned into exit codes.

Exit codes: 0 success, 1 bad input or storage failure (one line on stderr),
2 usage error, 3 a finding at or above ``--fail-on`` (``common.EXIT_FINDINGS``), 70 internal
error, 130 interrupted. ``--json`` prints machine
output on stdout; progress and tables go to stderr/stdout only for people.

Each group module lists its commands in ``COMMANDS`` (name to function); this module adds them all
to the app in one place, so a command's module never needs the app and cannot register twice.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Annotated

import typer

from appliance import __version__
from appliance.cli import browse as cli_browse
from appliance.cli import capture as cli_capture
from appliance.cli import dashboard as cli_dashboard
from appliance.cli import delete as cli_delete
from appliance.cli import evidence as cli_evidence
from appliance.cli import findings as cli_findings
from appliance.cli import measures as cli_measures
from appliance.cli import replay as cli_replay
from appliance.cli import report as cli_report
from appliance.cli.common import Fail, one_line
from appliance.lab.bench import BenchError
from appliance.lab.phases import PhasesError
from appliance.store.backends import StoreError
from parsers.capture import CaptureError
from policies.declaration import DeclarationError
from policies.engine import PackError

app = typer.Typer(
    help="tapaudit: audit what smart terminals send about people, from captures or a network tap.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
USER_ERRORS = (CaptureError, StoreError, BenchError, PhasesError, DeclarationError, PackError)

GROUPS = (
    cli_replay,
    cli_browse,
    cli_measures,
    cli_findings,
    cli_evidence,
    cli_report,
    cli_dashboard,
    cli_capture,
    cli_delete,
)
# `tapaudit --help` lists the commands in this order (the order of a lab session: ingest, look,
# measure, then judge and report); a command not named here is listed after these.
HELP_ORDER = (
    "replay",
    "devices",
    "flows",
    "destinations",
    "observations",
    "measures",
    "periods",
    "uploads",
    "captures",
    "delete",
    "schema",
    "assess",
    "findings",
    "evidence",
    "diff",
    "report",
    "dashboard",
    "capture",
    "mark",
)


def _register(groups: tuple[ModuleType, ...]) -> None:
    """Add every group's COMMANDS to the app, in HELP_ORDER; two groups claiming a name is a bug."""
    commands: dict[str, Callable[..., None]] = {}
    for group in groups:
        for name, fn in group.COMMANDS.items():
            if name in commands:
                raise RuntimeError(f"command {name!r} is registered by two modules")
            commands[name] = fn
    rank = {name: i for i, name in enumerate(HELP_ORDER)}
    for name in sorted(commands, key=lambda n: rank.get(n, len(rank))):
        app.command(name)(commands[name])


_register(GROUPS)


def _version(value: bool) -> None:
    """Eager, so `tapaudit --version` answers without a command."""
    if value:
        print(f"tapaudit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """tapaudit command line."""


def _one_line(msg: str) -> None:
    """Errors are one line on stderr (whitespace folded, control characters escaped: a file name
    never drives the terminal) so scripts and logs can quote them."""
    sys.stderr.write(f"tapaudit: {one_line(msg)}\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning errors into one line and an exit code."""
    try:
        app(args=argv)
    except SystemExit as exc:  # click's own exit: usage errors are 2, --help is 0
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except (Fail, *USER_ERRORS) as exc:
        _one_line(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        _one_line("interrupted")
        return 130
    except Exception as exc:
        if os.environ.get("TAPAUDIT_DEBUG"):
            raise
        _one_line(f"internal error: {type(exc).__name__}: {exc} (set TAPAUDIT_DEBUG=1 for the traceback)")
        return 70
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
