"""A product's declaration: what its maker says it collects, why, how often and for whom.

Findings compare what was observed with what was declared: undeclared data types,
undeclared third parties, intervals shorter than declared, collection before the
consent the declaration names. YAML, one file per product under test::

    product: imoo Kids Watch Z7
    devices: [80:41:4e:7c:22:31]          # MACs this declaration covers
    data_types:
      location: {purpose: guardian lookup, interval_s: 600, features: [locate]}
      imei: {purpose: device binding}
    destinations: [imoo.com, amap.com]     # domains (suffixes) or catalogue organisations
    sdks: [amap]                           # third-party SDKs named in the privacy policy
    features: [locate, voice_chat]
    consent: {phase: idle}                 # or {at: 2026-03-02T09:10:00Z}
    guardian_consent: {phase: idle}
    separate_consent: [location]           # sensitive types with their own consent
    overrides: {CN25-03: {max_interval_s: 120}}   # a lab's per-product thresholds
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policies.yamlfile import read_yaml


class DeclarationError(Exception):
    """A declaration file that cannot be used: the message is one line for the user."""


@dataclass(frozen=True)
class Declared:
    purpose: str = ""
    interval_s: float = 0.0  # 0: no interval declared
    features: tuple[str, ...] = ()


@dataclass
class Declaration:
    product: str = ""
    devices: tuple[str, ...] = ()
    data_types: dict[str, Declared] = field(default_factory=dict)
    destinations: tuple[str, ...] = ()
    sdks: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    consent: dict[str, Any] = field(default_factory=dict)  # {"phase": name} or {"at_ns": int}
    guardian_consent: dict[str, Any] = field(default_factory=dict)
    separate_consent: tuple[str, ...] = ()
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: str = ""
    sha256: str = ""

    def declares_type(self, data_type: str) -> bool:
        """A persona match (persona:imei) is declared with its base type (imei)."""
        return data_type in self.data_types or data_type.split(":", 1)[-1] in self.data_types

    def names_as_own(self, domain: str) -> bool:
        """A domain under the product's own ``destinations`` (not its ``sdks``): the maker's service,
        so a destination nothing else names is first party (``policies.engine.declared_parties``)."""
        d = domain.lower().rstrip(".")
        return any(d == n or d.endswith("." + n) for n in self.destinations if "." in n)

    def declares_destination(self, domain: str, organisation: str) -> bool:
        names = set(self.destinations) | set(self.sdks)
        if organisation and organisation in names:
            return True
        d = domain.lower().rstrip(".")
        return any(d == n or d.endswith("." + n) for n in names if "." in n)


def load_declarations(paths: list[str]) -> list[Declaration]:
    """Declaration files, or folders of them (``*.yaml``), in the order given."""
    out = []
    for p in paths:
        if Path(p).is_dir():
            files = sorted(Path(p).glob("*.yaml"))
            if not files:
                raise DeclarationError(f"{p}: no *.yaml declarations in this folder")
            out += [load_declaration(str(f)) for f in files]
        else:
            out.append(load_declaration(p))
    return out


def load_declaration(path: str) -> Declaration:
    """Read and check a declaration file; DeclarationError with a one-line reason otherwise."""
    doc, raw = read_yaml(path, DeclarationError)
    if not isinstance(doc, dict):
        raise DeclarationError(f"{path}: expected a mapping with product, data_types, ...")
    unknown = set(doc) - set(Declaration.__dataclass_fields__) - {"path", "sha256"}
    if unknown:
        raise DeclarationError(f"{path}: unknown key {sorted(unknown)[0]!r}")
    try:
        return Declaration(
            product=str(doc.get("product", "")),
            devices=tuple(_mac(str(m)) for m in doc.get("devices") or ()),
            data_types={str(k): _declared(v) for k, v in (doc.get("data_types") or {}).items()},
            destinations=tuple(str(d).lower() for d in doc.get("destinations") or ()),
            sdks=tuple(str(d).lower() for d in doc.get("sdks") or ()),
            features=tuple(str(f) for f in doc.get("features") or ()),
            consent=_moment(doc.get("consent")),
            guardian_consent=_moment(doc.get("guardian_consent")),
            separate_consent=tuple(str(t) for t in doc.get("separate_consent") or ()),
            overrides={str(k): dict(v) for k, v in (doc.get("overrides") or {}).items()},
            path=path,
            sha256=hashlib.sha256(raw).hexdigest(),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise DeclarationError(f"{path}: {exc}") from None


def _declared(v: Any) -> Declared:
    if v is None:
        return Declared()
    if not isinstance(v, dict):
        raise ValueError(f"data type entry must be a mapping, got {v!r}")
    return Declared(
        purpose=str(v.get("purpose", "")),
        interval_s=float(v.get("interval_s") or 0),
        features=tuple(str(f) for f in v.get("features") or ()),
    )


def _moment(v: Any) -> dict[str, Any]:
    """{phase: name} or {at: ISO time or epoch seconds} to {"phase": ...} / {"at_ns": ...}."""
    if not v:
        return {}
    if not isinstance(v, dict) or not ({"phase", "at"} & set(v)):
        raise ValueError(f"consent must be {{phase: NAME}} or {{at: TIME}}, got {v!r}")
    if "phase" in v:
        return {"phase": str(v["phase"])}
    at = v["at"]
    if isinstance(at, (int, float)):
        return {"at_ns": int(at * 1e9)}
    when = at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return {"at_ns": int(when.timestamp() * 1e9)}


def _mac(text: str) -> str:
    hexd = re.sub(r"[^0-9a-fA-F]", "", text)
    if len(hexd) != 12 or len(re.sub(r"[0-9a-fA-F:.-]", "", text)):
        raise ValueError(f"not a MAC address: {text!r}")
    return ":".join(hexd[i : i + 2] for i in range(0, 12, 2)).lower()
