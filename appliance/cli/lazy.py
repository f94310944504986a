"""The command table, loaded lazily: `tapaudit --help` and a usage error import no command module.

Issue 18, point 6: every command, ``--help`` included, took 2.5-3.5 s to start because the app
imported every group module, and with them chDB, pyarrow, pyshark, scapy, the packs and rich's
tables. Here each command is named with its group module and a one-line summary (its docstring's
first sentence, checked by tests/ui/test_cli_startup.py); the module is imported only when the
command is chosen, and its Typer command is built then (``typer.main.get_command_from_info``,
what ``app.command`` does at import).

Help text names values, not Python types: Typer shows an option's annotation (``<str>``,
``<bool>``, ``<list[str]>``); ``plain_metavars`` gives each option a metavar from its own name
(``--device DEVICE``), none to a flag, and to an argument its name in capitals.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

from typer import _click
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.main import get_command_from_info
from typer.models import CommandInfo

from appliance.cli.coerce import plain_coercion


class Entry(NamedTuple):
    module: str  # appliance.cli.<module> lists the command in its COMMANDS
    summary: str  # the first sentence of the command's docstring, for `tapaudit --help`


# In the order `tapaudit --help` lists them: a lab session's (ingest, look, measure, judge, report).
COMMANDS: dict[str, Entry] = {
    "replay": Entry("replay", "Replay captures into ClickHouse: flows, devices and their addresses."),
    "devices": Entry("browse", "List the local devices found in stored captures."),
    "flows": Entry("browse", "List stored flows, oldest first."),
    "destinations": Entry(
        "browse", "Who each device talks to: domain, organisation, kind, party, country, encryption, volume."
    ),
    "observations": Entry(
        "browse",
        "Personal data found in what devices sent: type, where, precision, destination; values masked.",
    ),
    "measures": Entry(
        "measures",
        "How often, how precisely and for how long each device sent each kind of personal data, by phase.",
    ),
    "periods": Entry(
        "measures",
        "How regularly each device reports to each destination, from the timing of encrypted traffic.",
    ),
    "uploads": Entry(
        "measures", "Upload bursts in encrypted traffic, each with the media it probably carries and why."
    ),
    "captures": Entry(
        "browse",
        "List stored captures with their sha256, time span and counts, and "
        "the TLS key files each was replayed with (path and sha256, never a secret); "
        "or set the store's retention, or prune it.",
    ),
    "delete": Entry(
        "delete",
        "Delete a stored capture: every row of it, all its runs, rewritten out "
        "of the store's files, and its batches still waiting in the spool folder.",
    ),
    "schema": Entry("browse", "Print the ClickHouse DDL that tapaudit creates."),
    "assess": Entry(
        "findings",
        "Judge stored captures against the rule packs and store the findings (replacing earlier ones).",
    ),
    "findings": Entry(
        "findings", "The current findings, most severe first: rule, statement with figures, evidence."
    ),
    "evidence": Entry(
        "evidence",
        "Write exactly the packets behind a finding (its flows, both "
        "directions) to a capture file; with --dissect, show them as Wireshark "
        "dissects them and check the finding against them.",
    ),
    "diff": Entry(
        "evidence",
        "What changed from capture A to B: destinations, data types, how often and how precisely, findings.",
    ),
    "report": Entry(
        "report",
        "A device's lab report as test evidence: report number, laboratory, customer and item; "
        "identity, scenario, captures, tools and rules, decision rule and overall conformity, verdict "
        "per requirement, findings with their evidence and clauses, charts, what could not be "
        "assessed, and the signatures.",
    ),
    "dashboard": Entry(
        "dashboard", "Serve the dashboard (Streamlit) on the stored captures; Ctrl-C stops it."
    ),
    "capture": Entry(
        "capture",
        "Capture live from an interface: ring files on disk, flows and "
        "observations to the store every few seconds.",
    ),
    "mark": Entry("capture", "Mark the start of a test phase in the running capture session, now."),
    "zeek": Entry(
        "zeek",
        "Follow a Zeek sensor live: its connection, DNS, TLS, HTTP and DHCP rows to the store every "
        "few seconds.",
    ),
    "intercept": Entry(
        "intercept",
        "Capture as the devices' gateway and intercept their TLS: certificate-validation tests per "
        "destination, decrypting what the devices accept, passing the rest through untouched.",
    ),
}


def load(name: str, markup: Any) -> _click.Command:
    """The command ``name`` built from its group module (imported now), with plain metavars."""
    module = importlib.import_module(f"appliance.cli.{COMMANDS[name].module}")
    cmd = get_command_from_info(
        CommandInfo(name=name, callback=module.COMMANDS[name]),
        pretty_exceptions_short=True,
        rich_markup_mode=markup,
    )
    plain_metavars(cmd)
    plain_coercion(cmd.params)
    return cmd


def _no_type(ctx: _click.Context) -> None:
    return None


def plain_metavars(cmd: _click.Command) -> None:
    """Name what each parameter takes instead of its Python type (see the module's docstring)."""
    for param in cmd.params:
        if isinstance(param, TyperOption):
            if param.is_flag:
                param.metavar = ""
            elif param.metavar is None and not param.type_descriptor.is_choice:  # choices show as such
                param.metavar = max(param.opts, key=len).lstrip("-").upper().replace("-", "_")
        elif isinstance(param, TyperArgument):
            param.metavar = (param.name or "value").upper()
            param.display_type_rich = _no_type  # type: ignore[method-assign]  # no `<list[str]>`
    plain_help = cmd.get_help_option

    def help_option(ctx: _click.Context) -> TyperOption | None:
        option = plain_help(ctx)
        if option is not None:
            option.metavar = ""  # a flag: no `<bool>`
            plain_coercion([option])
        return option

    cmd.get_help_option = help_option  # type: ignore[method-assign]


class LazyGroup(TyperGroup):
    """The root group: lists COMMANDS by name and summary, builds a command only when it runs (or
    its own help is asked for)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._loaded: dict[str, _click.Command] = {}
        plain_metavars(self)
        plain_coercion(self.params)
        for name, entry in COMMANDS.items():  # stand-ins: enough for the group's help and errors
            self.commands[name] = TyperCommand(name=name, help=entry.summary, short_help=entry.summary)

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        name, cmd, rest = super().resolve_command(ctx, args)
        if name in COMMANDS:
            if name not in self._loaded:
                self._loaded[name] = load(name, self.rich_markup_mode)
            cmd = self._loaded[name]
        return name, cmd, rest
