"""Command-line values read without pydantic (``appliance.cli.coerce``) exactly as Typer reads them.

The oracle is Typer's own coercion (the pydantic adapter it builds per parameter): for every
parameter of every command and a set of spellings, plain and odd (signs, spaces, exponents,
underscores, other scripts' digits, out of bounds, not a number), both give the same value of the
same type, or both refuse it with the same message.
"""

from __future__ import annotations

from typing import Any

import pytest
from typer import _click
from typer._click.exceptions import BadParameter, UsageError
from typer._coercion import build_runtime_param
from typer.core import _TyperParameter

from appliance.cli.coerce import Plain
from appliance.cli.lazy import COMMANDS, load

TEXTS = ["5", "007", "0", "-1", "+3", " 4", "4 ", "1_000", "1.5", "0.5", ".5", "5.", "1e3", "inf", "nan",
         "abc", "", "0.0005", "0.001", "99999999999999999999", "١٢", "x y", "ü", "--db"]  # fmt: skip
VALUES: list[Any] = [*TEXTS, 0, 1, -1, 7, 0.0, 0.0001, 120.0, True, False, (), ("a",), ("a", "b"), ["c"]]
VALUES.append((1,))


def _outcome(run: Any, value: Any, param: _TyperParameter, ctx: _click.Context) -> tuple[str, Any]:
    try:
        got = run.coerce(value, param=param, ctx=ctx)
    except (BadParameter, UsageError) as exc:
        return "refused", exc.format_message()
    return "value", (type(got), got)


def _params() -> list[tuple[str, _TyperParameter, _click.Command]]:
    out = []
    for name in COMMANDS:
        cmd = load(name, None)
        out += [(f"{name} {p.name}", p, cmd) for p in cmd.params if isinstance(p, _TyperParameter)]
    return out


PARAMS = _params()


def test_every_command_option_but_none_is_read_plainly() -> None:
    plain = [label for label, p, _ in PARAMS if isinstance(p.get_runtime_param(), Plain)]
    assert len(plain) == len(PARAMS) > 100, sorted({label for label, *_ in PARAMS} - set(plain))


@pytest.mark.parametrize(("label", "param", "cmd"), PARAMS, ids=[label for label, *_ in PARAMS])
def test_plain_reading_is_typers(label: str, param: _TyperParameter, cmd: _click.Command) -> None:
    ctx = _click.Context(cmd)
    fast = param.get_runtime_param()
    typers = build_runtime_param(param.type_descriptor)
    for value in VALUES:
        want = _outcome(typers, value, param, ctx)
        assert _outcome(fast, value, param, ctx) == want, (label, value)
