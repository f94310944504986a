"""Command-line values turned into Python values without building a pydantic validator per option.

Typer (0.29) coerces every parameter's value through a pydantic ``TypeAdapter`` it builds on first
use: a `tapaudit replay` imported pydantic (and with it ``importlib.metadata`` and ``email``) and
built an adapter per option before the command ran, about 0.06 CPU-s of a 10,000-packet replay's
0.7 (issue 20, point 3: a replay's fixed cost under 0.5 CPU-s). The values this CLI takes are simple: text,
flags, whole and decimal numbers with a lower bound, repeated text. ``Plain`` reads those in their
plain spelling (``5``, ``0.5``, a tuple of texts) as the adapter would, and hands anything else,
bound violations included, to Typer's own adapter, so what is accepted and every error message
stay Typer's (tests/ui/test_cli_coerce.py compares the two on every parameter of every command).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from typer import _click
from typer._coercion import RuntimeParam, build_runtime_param
from typer.core import _TyperParameter

# What the adapters read as the same number Python's int() and float() do (pydantic's lax mode
# also takes spaces, signs, underscores, exponents...: those go to the adapter).
INTEGER = re.compile(r"[0-9]{1,18}")
DECIMAL = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,15})?")
LEAVES = (str, bool, int, float)
LISTS: dict[Any, type] = {list[str]: str, list[int]: int}


@dataclass(frozen=True)
class Plain(RuntimeParam):
    """A parameter's coercion: the plain spellings here, the rest by Typer's adapter (built then)."""

    descriptor: Any  # typer._coercion.TypeDescriptor

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: _click.Context) -> Any:
        done, out = self._plain(value)
        if done:
            return out
        return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)

    def _plain(self, value: Any) -> tuple[bool, Any]:
        kind = self.annotation
        if kind in LISTS:  # a repeated option or an argument's values: each read as one value
            if not isinstance(value, (list, tuple)):
                return False, None
            items = [_one(LISTS[kind], v, self.parameter_info) for v in value]
            return all(done for done, _ in items), [v for _, v in items]
        return _one(kind, value, self.parameter_info)


def _one(kind: Any, value: Any, info: Any) -> tuple[bool, Any]:
    """(True, the value) for a plain spelling of ``kind``; (False, None) for the adapter to judge."""
    if kind is str:
        return type(value) is str, value
    if kind is bool:  # a flag's value is already one (Typer skips it); None never gets here
        return type(value) is bool, value
    number: Any = None
    if kind is int:
        if type(value) is int:
            number = value
        elif type(value) is str and INTEGER.fullmatch(value):
            number = int(value)
    elif kind is float:
        if type(value) is float:
            number = value
        elif type(value) is str and DECIMAL.fullmatch(value):
            number = float(value)
    if number is None:
        return False, None
    if (info.min is not None and number < info.min) or (info.max is not None and number > info.max):
        return False, None  # the adapter words the error
    return True, number


def plain_coercion(params: list[_click.Parameter]) -> None:
    """Give each Typer parameter of the kinds ``Plain`` reads its coercion now (instead of the
    adapter Typer would build on first use)."""
    for param in params:
        if not isinstance(param, _TyperParameter):
            continue
        d = param.type_descriptor
        info = d.parameter_info
        simple = (d.annotation in LEAVES or d.annotation in LISTS) and d.file_annotation is None
        if simple and info.parser is None and not info.clamp and not d.is_choice and not d.is_path:
            param._runtime_param = Plain(parameter_info=info, annotation=d.annotation, descriptor=d)
