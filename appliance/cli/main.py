"""The ``tapaudit`` command line: the Typer app, its command groups, and errors turned into exit codes.

Exit codes: 0 success, 1 bad input or storage failure (one line on stderr),
2 usage error, 3 a finding at or above ``--fail-on`` (``common.EXIT_FINDINGS``), 70 internal
error, 130 interrupted. ``--json`` prints machine
output on stdout; progress and tables go to stderr/stdout only for people.

Each group module lists its commands in ``COMMANDS`` (name to function); ``lazy.COMMANDS`` names
each command's module, imported only when that command runs, so `tapaudit --help` and an error
exit start in a fraction of a second (issue 18, point 6).
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Annotated

import typer

from appliance import __version__
from appliance.cli.base import DbOpt, Fail, one_line
from appliance.cli.lazy import LazyGroup

app = typer.Typer(
    cls=LazyGroup,
    help="tapaudit: audit what smart terminals send about people, from captures or a network tap.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# Errors a person caused (bad capture, store, bench, phases, declaration, pack), as (module, class):
# looked up only in modules already imported, so an error exit imports nothing more (issue 18).
USER_ERRORS = (
    ("parsers.capture", "CaptureError"),
    ("appliance.store.backends", "StoreError"),
    ("appliance.lab.bench", "BenchError"),
    ("appliance.lab.phases", "PhasesError"),
    ("policies.declaration", "DeclarationError"),
    ("policies.engine", "PackError"),
)


def user_error(exc: BaseException) -> bool:
    """Whether ``exc`` is one of USER_ERRORS (a class whose module is not loaded cannot have raised it)."""
    for module, name in USER_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, getattr(loaded, name)):
            return True
    return False


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
    db: DbOpt = None,
) -> None:
    """tapaudit command line. ``--db`` before the command is the data folder of any command that
    reads the store (the command's own ``--db`` wins): it is passed on as TAPAUDIT_DB."""
    if db:
        os.environ["TAPAUDIT_DB"] = db


def _one_line(msg: str) -> None:
    """Errors are one line on stderr (whitespace folded, control characters escaped: a file name
    never drives the terminal) so scripts and logs can quote them."""
    sys.stderr.write(f"tapaudit: {one_line(msg)}\n")


# Objects allocated between two young-generation collections. A command's start imports its
# modules, chDB, pyarrow and the packs: about a million objects and almost no garbage cycles, which
# CPython's default of 700 checks in ~150 collections, 0.05 CPU-s of a replay's fixed cost (7%,
# measured on a 10k-packet replay, issue 20). The older generations keep their defaults; a replay's
# packet loop still runs without the collector (``appliance.ingest.replay``).
YOUNG_GC_THRESHOLD = 20_000


# numpy, which pyarrow imports when chDB is loaded, starts OpenBLAS with a thread per core, and those
# threads spin while it starts: 0.04 CPU-s of every command that opens the store (issue 20, point 3:
# `python -c "import numpy"` takes 0.09 CPU-s, 0.05 with one thread). No tapaudit command does
# linear algebra; a value the user set is kept (and passed on to worker processes either way).
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "1")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning errors into one line and an exit code."""
    os.environ.setdefault(*BLAS_THREADS)
    young, *older = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_GC_THRESHOLD), *older)
    try:
        app(args=argv)
    except SystemExit as exc:  # click's own exit: usage errors are 2, --help is 0
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except Fail as exc:
        _one_line(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        _one_line("interrupted")
        return 130
    except Exception as exc:
        if user_error(exc):
            _one_line(f"error: {exc}")
            return 1
        if os.environ.get("TAPAUDIT_DEBUG"):
            raise
        _one_line(f"internal error: {type(exc).__name__}: {exc} (set TAPAUDIT_DEBUG=1 for the traceback)")
        return 70
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
