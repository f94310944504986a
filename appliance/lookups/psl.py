"""Registrable domains from the public suffix list snapshot that ships inside tldextract.

tldextract's own lookup costs 0.2 s to build on every run; the ICANN rules as a set
load in a few milliseconds and answer the one question the enrichment asks
(eTLD+1) with the PSL algorithm: longest matching rule, wildcards, exceptions.
The snapshot's version line is recorded with each capture.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from policies.cachefile import kept

HOSTNAME = re.compile(r"[a-z0-9_.-]+")


class Psl:
    def __init__(self, text: str) -> None:
        self.version = ""
        self.rules: set[str] = set()
        self.wildcards: set[str] = set()  # "*.ck" stored as "ck"
        self.exceptions: set[str] = set()  # "!www.ck" stored as "www.ck"
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("// VERSION:"):
                self.version = line.split(":", 1)[1].strip()
            if line.startswith("// ===BEGIN PRIVATE DOMAINS==="):
                break  # ICANN section only, as tldextract by default
            if not line or line.startswith("//"):
                continue
            rule = line.split()[0].lower()
            if not rule.isascii():  # names on the wire are punycode (xn--)
                rule = ".".join(_puny(label) for label in rule.split("."))
            if rule.startswith("!"):
                self.exceptions.add(rule[1:])
            elif rule.startswith("*."):
                self.wildcards.add(rule[2:])
            else:
                self.rules.add(rule)

    def parts(self) -> tuple[str, set[str], set[str], set[str]]:
        """What the rules are made of, for the cache (``snapshot``)."""
        return self.version, self.rules, self.wildcards, self.exceptions

    @classmethod
    def from_parts(cls, parts: tuple[str, set[str], set[str], set[str]]) -> Psl:
        """The rules as ``parts`` gave them, without reading the list again."""
        psl = cls.__new__(cls)
        psl.version, psl.rules, psl.wildcards, psl.exceptions = parts
        return psl

    def suffix_len(self, labels: list[str]) -> int:
        """Number of labels of the public suffix of a name; 0 when no rule matches (``x.local``)."""
        n = len(labels)
        for i in range(n):
            cand = ".".join(labels[i:])
            if cand in self.exceptions:
                return n - i - 1
            if cand in self.rules:
                return n - i
            if i + 1 < n and ".".join(labels[i + 1 :]) in self.wildcards:
                return n - i
        return 0

    def registrable(self, name: str) -> str:
        name = name.lower().rstrip(".")
        if not HOSTNAME.fullmatch(name):
            return ""  # not a host name (odd bytes from a DNS label, an address)
        labels = name.split(".")
        if len(labels) < 2 or not all(labels):
            return ""
        k = self.suffix_len(labels)
        return ".".join(labels[-(k + 1) :]) if 0 < k < len(labels) else ""


def _puny(label: str) -> str:
    return label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")


def _is_parts(value: object) -> bool:
    """A cache entry read back has the shape of ``Psl.parts`` (a version, then three sets of text)."""
    return (
        isinstance(value, tuple)
        and len(value) == 4
        and isinstance(value[0], str)
        and all(isinstance(part, set) and all(isinstance(r, str) for r in part) for part in value[1:])
    )


@lru_cache(maxsize=1)
def snapshot() -> Psl:
    """The snapshot's rules, kept in the cache folder once read (``policies.cachefile``: 7 ms of
    parsing in every replay, issue 20, point 3)."""
    spec = find_spec("tldextract")  # locates the package without importing it (and its HTTP stack)
    if spec is None or spec.origin is None:
        raise RuntimeError("tldextract is not installed: its public suffix list snapshot is needed")
    raw = Path(spec.origin).with_name(".tld_set_snapshot").read_bytes()
    return Psl.from_parts(kept("psl", raw, lambda: Psl(raw.decode("utf-8")).parts(), _is_parts))
