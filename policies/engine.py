"""Rule packs from YAML, and the run of their rules over the facts about a device.

Packs live in ``policies/packs/*.yaml`` and are read, not imported; each rule names
its check (``policies.checks.CHECKS``, an explicit dict) and its thresholds. A
product's declaration may override a rule's thresholds (``overrides``). The engine
is pure: facts and declaration in, findings out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from policies.checks import CHECKS
from policies.declaration import Declaration
from policies.model import ALL, Facts, Finding, Pack, Rule
from policies.pack_files import PACKS_DIR, pack_names
from policies.verdicts import ASCENDING, SEVERITIES
from policies.yamlfile import parse_yaml

RULE_KEYS = frozenset(
    ("id", "title", "title_zh", "requirements", "clauses", "categories", "phases", "check", "params",
     "severity", "explain", "explain_zh")
)  # fmt: skip


class PackError(Exception):
    """A pack that cannot be used: one line for the user."""


def load_pack(name_or_path: str) -> Pack:
    """A pack by name (``cn-pi-2025``) or path; PackError with a one-line reason otherwise."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PACKS_DIR / f"{name_or_path}.yaml"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PackError(f"{path}: {exc.strerror or exc} (packs: {', '.join(pack_names())})") from None
    doc = parse_yaml(raw, str(path), PackError)
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise PackError(f"{path}: expected pack, version, title and a list of rules")
    pack_id = str(doc.get("pack", path.stem))
    rules = tuple(_rule(path, pack_id, r) for r in doc["rules"])
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise PackError(f"{path}: rule ids repeat")
    return Pack(pack_id, str(doc.get("version", "")), str(doc.get("title", "")), rules,
                hashlib.sha256(raw).hexdigest())  # fmt: skip


def _rule(path: Path, pack: str, r: Any) -> Rule:
    if not isinstance(r, dict):
        raise PackError(f"{path}: a rule must be a mapping")
    rid = str(r.get("id", "?"))
    missing = {"id", "title", "requirements", "check", "severity", "explain"} - set(r)
    if missing:
        raise PackError(f"{path}: rule {rid} lacks {sorted(missing)[0]}")
    unknown = set(r) - RULE_KEYS
    if unknown:
        raise PackError(f"{path}: rule {rid} has unknown key {sorted(unknown)[0]!r}")
    if r["check"] not in CHECKS:
        raise PackError(f"{path}: rule {rid} names unknown check {r['check']!r}")
    if r["severity"] not in SEVERITIES:
        raise PackError(f"{path}: rule {rid} severity must be one of {', '.join(ASCENDING)}")
    bad = _bad_param(r.get("params"))
    if bad:
        raise PackError(f"{path}: rule {rid} {bad}")
    return Rule(
        id=rid,
        pack=pack,
        title=str(r["title"]),
        title_zh=str(r.get("title_zh", "")),
        requirements=tuple(str(x) for x in r["requirements"]),
        clauses=tuple(str(x) for x in r.get("clauses") or ()),
        categories=tuple(str(x) for x in r.get("categories") or (ALL,)),
        phases=tuple(str(x) for x in r.get("phases") or (ALL,)),
        check=str(r["check"]),
        params=dict(r.get("params") or {}),
        severity=str(r["severity"]),
        explain=str(r["explain"]).strip(),
        explain_zh=str(r.get("explain_zh", "")).strip(),
    )


def _bad_param(params: Any) -> str:
    """Why a rule's params cannot be used ("" when they can): a mapping; a ``*severity`` param names
    a severity; ``severity_steps`` maps numeric bounds to severities."""
    if params is None:
        return ""
    if not isinstance(params, dict):
        return "params must be a mapping"
    for key, value in params.items():
        if str(key).endswith("severity") and value not in SEVERITIES:
            return f"param {key} must be one of {', '.join(ASCENDING)}"
    steps = params.get("severity_steps")
    if steps is not None:
        if not isinstance(steps, dict):
            return "param severity_steps must map bounds to severities"
        for bound, sev in steps.items():
            if sev not in SEVERITIES or isinstance(bound, bool) or not isinstance(bound, (int, float)):
                return f"param severity_steps: {bound!r}: {sev!r} is not a number mapped to a severity"
    return ""


def rules_sha256(packs: Iterable[Pack]) -> str:
    """One hash over the packs that ran (their files' hashes, by pack id)."""
    h = hashlib.sha256()
    for p in sorted(packs, key=lambda p: p.id):
        h.update(f"{p.id}:{p.version}:{p.sha256}\n".encode())
    return h.hexdigest()


def evaluate(packs: Iterable[Pack], facts: Facts, declaration: Declaration | None = None) -> list[Finding]:
    """Every finding the packs' rules raise on one device's facts (rules of other categories skipped)."""
    if declaration is not None:
        facts = declared_parties(facts, declaration)
    out: list[Finding] = []
    for pack in packs:
        for rule in pack.rules:
            if not rule.applies_to(facts.category):
                continue
            if declaration is not None and rule.id in declaration.overrides:
                rule = _with_params(rule, declaration.overrides[rule.id])
            out += CHECKS[rule.check](rule, facts, declaration)
    return out


def declared_parties(facts: Facts, declaration: Declaration) -> Facts:
    """The facts with the declaration's own destinations as first party where nothing else named the
    party (``unknown`` at replay: an uncatalogued name the maker lists as its own); a party the
    catalogue decided stays, so a third party listed among the destinations is still third."""

    def own(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {**r, "party": "first"}
            if r.get("party") == "unknown" and declaration.names_as_own(str(r.get("destination") or ""))
            else r
            for r in rows
        ]

    return replace(facts, flows=own(facts.flows), observations=own(facts.observations))


def _with_params(rule: Rule, override: dict[str, Any]) -> Rule:
    return replace(rule, params={**rule.params, **override})
