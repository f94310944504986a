"""What the command line needs before it knows the command: the one-line failure, safe text, ``--db``.

Kept apart from ``common`` so that `tapaudit --help` and an error exit import only Typer (issue 18,
point 6); ``common`` re-exports these for the commands.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

import typer

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Data folder for embedded ClickHouse, or clickhouse://user:pass@host:9000/db "
        "[env TAPAUDIT_DB; default ./data]",
        show_default=False,
    ),
]


class Fail(Exception):
    """A user-facing error raised inside a command."""


def safe(text: str) -> str:
    """``text`` as a terminal shows it harmlessly: control and format characters escaped as
    Python writes them (``\\x1b``, ``\\x9b``, ``\\u202e``), so a file name or any user string with
    escape sequences (colours, cursor moves, window titles, OSC 8 links) or bidi overrides cannot
    drive the terminal or hide text; printable text, non-ASCII letters included, is unchanged."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() or unicodedata.category(ch) == "Zs" else repr(ch)[1:-1] for ch in text
    )


def one_line(msg: str) -> str:
    """An error or a note as one safe line: whitespace runs (newlines included) folded to a space,
    then every other control character escaped (``safe``)."""
    return safe(" ".join(msg.split()))
