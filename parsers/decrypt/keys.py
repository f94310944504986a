"""TLS session secrets, as labs hand them over: NSS key log lines and pcapng Decryption Secrets Blocks.

The NSS key log format (``SSLKEYLOGFILE``, written by OpenSSL's ``keylog_callback``, NSS, curl,
browsers, mitmproxy; https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/
and draft-ietf-tls-keylogfile) is one secret per line, ``<label> <client random hex> <secret hex>``,
``#`` comments. TLS 1.2 and earlier log ``CLIENT_RANDOM`` (the 48-byte master secret); TLS 1.3 logs
the handshake and first application traffic secrets (``CLIENT_HANDSHAKE_TRAFFIC_SECRET``,
``SERVER_HANDSHAKE_TRAFFIC_SECRET``, ``CLIENT_TRAFFIC_SECRET_0``, ``SERVER_TRAFFIC_SECRET_0``,
``EXPORTER_SECRET``, ``CLIENT_EARLY_TRAFFIC_SECRET``); QUIC stacks log the same TLS 1.3 labels.
A pcapng Decryption Secrets Block of type ``TLSK`` (0x544c534b, draft-ietf-opsawg-pcapng 4.7)
carries exactly these lines, which is how ``editcap --inject-secrets tls,FILE`` embeds them.

Every secret is keyed by the 32-byte ClientHello random, the one value both the capture and the
key log hold; a resumed session's new ClientHello has a random of its own, logged on its own line.
A ``KeyLog`` only grows: a live capture's key log is read as it grows (``add_text`` again with the
new lines), and a flow whose handshake was seen before its keys arrived asks again later.

Key material is secret (requirements spec, masking): a ``KeyLog`` never prints its secrets (its
``repr`` names counts only) and nothing here logs a line; what a store may keep of a key file is
its path and SHA-256 (``KeySource``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

# Labels and the field of ``Secrets`` each fills (draft-ietf-tls-keylogfile section 3).
LABELS = {
    "CLIENT_RANDOM": "master_secret",
    "CLIENT_EARLY_TRAFFIC_SECRET": "client_early",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET": "client_handshake",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET": "server_handshake",
    "CLIENT_TRAFFIC_SECRET_0": "client_traffic_0",
    "SERVER_TRAFFIC_SECRET_0": "server_traffic_0",
    "EXPORTER_SECRET": "exporter",
}
# Secrets after a KeyUpdate, as OpenSSL 3 logs them (``CLIENT_TRAFFIC_SECRET_N``; others number them):
# valid lines, but not needed, as each follows from the one before (RFC 8446 7.2).
UPDATED = re.compile(r"^(CLIENT|SERVER)_TRAFFIC_SECRET_(N|[1-9][0-9]*)$")
RANDOM_LEN = 32
MASTER_LEN = 48  # a TLS 1.2 master secret (RFC 5246 8.1)
TLS13_SECRET_LENS = (32, 48)  # Hash.length of SHA-256 and SHA-384, the TLS 1.3 suites' hashes
DSB_TLS = 0x544C534B  # "TLSK": a DSB whose secrets are NSS key log lines
KEYLOG = "tls-keylog"  # where a plaintext came from, as observations and rows name it
DSB = "tls-dsb"
INTERCEPT = "tls-intercept"  # the lab gateway's interceptor's own key log (issue 19): it terminated the TLS


@dataclass
class Secrets:
    """What the logs gave for one ClientHello random (any subset; ``source`` of the first line)."""

    source: str = KEYLOG
    master_secret: bytes = b""
    client_early: bytes = b""
    client_handshake: bytes = b""
    server_handshake: bytes = b""
    client_traffic_0: bytes = b""
    server_traffic_0: bytes = b""
    exporter: bytes = b""

    def __repr__(self) -> str:  # never the secrets themselves
        have = [name for name in LABELS.values() if getattr(self, name)]
        return f"Secrets({self.source}: {', '.join(have) or 'none'})"

    @property
    def tls12(self) -> bool:
        return bool(self.master_secret)

    @property
    def tls13(self) -> bool:
        """Both application traffic secrets: enough to read the application data of a TLS 1.3 flow."""
        return bool(self.client_traffic_0 and self.server_traffic_0)


@dataclass(frozen=True)
class KeySource:
    """One key file (or a capture's DSBs) as the store records it: never the secrets."""

    path: str
    sha256: str
    kind: str  # KEYLOG or DSB
    lines: int  # secret lines taken
    bad_lines: int  # lines that were not a secret line (counted and skipped)


@dataclass
class KeyLog:
    """Secrets by ClientHello random, from any number of key logs and DSBs; only ever grows."""

    by_random: dict[bytes, Secrets] = field(default_factory=dict, repr=False)
    sources: list[KeySource] = field(default_factory=list)
    lines: int = 0
    bad_lines: int = 0
    # True while its files are followed as they grow (a live capture): a flow whose keys are not
    # there yet holds its records for them; a key log read whole (replay, the capture's DSBs placed
    # before its packets) has every key it will have, so such a flow is "no key" at once
    growing: bool = False

    def __repr__(self) -> str:
        return f"KeyLog({len(self.by_random)} sessions, {self.lines} lines, {self.bad_lines} bad)"

    def __len__(self) -> int:
        return len(self.by_random)

    def __bool__(self) -> bool:
        return True  # an empty key log is still a key log (live: its lines may come later)

    def add_text(self, text: str | bytes, source: str = KEYLOG) -> tuple[int, int]:
        """Take every secret line of ``text``; (lines taken, bad lines). A line whose label is
        unknown, whose random is not 32 bytes or whose secret has an impossible length is bad:
        counted, skipped, never an error (a truncated key log keeps its whole lines)."""
        if isinstance(text, bytes):
            text = text.decode("ascii", "replace")
        taken = bad = 0
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if self._take(line, source):
                taken += 1
            else:
                bad += 1
        self.lines += taken
        self.bad_lines += bad
        return taken, bad

    def add_file(self, path: str, source: str = KEYLOG) -> KeySource:
        """Read one key log file whole (OSError propagates: the caller names the file in one line)."""
        with open(path, "rb") as fh:
            data = fh.read()
        taken, bad = self.add_text(data, source)
        ks = KeySource(path, hashlib.sha256(data).hexdigest(), source, taken, bad)
        self.sources.append(ks)
        return ks

    def add_dsb(self, secrets_type: int, data: bytes, where: str = "") -> bool:
        """A pcapng DSB's secrets: taken when they are TLS key log lines (``TLSK``), else ignored."""
        if secrets_type != DSB_TLS:
            return False
        taken, bad = self.add_text(data, DSB)
        self.sources.append(KeySource(where, hashlib.sha256(data).hexdigest(), DSB, taken, bad))
        return True

    def lookup(self, client_random: bytes) -> Secrets | None:
        return self.by_random.get(bytes(client_random))

    def _take(self, line: str, source: str) -> bool:
        parts = line.split()
        if len(parts) == 3 and UPDATED.match(parts[0]):
            return True
        if len(parts) != 3 or parts[0] not in LABELS:
            return False
        label, rnd_hex, secret_hex = parts
        try:
            rnd, secret = bytes.fromhex(rnd_hex), bytes.fromhex(secret_hex)
        except ValueError:
            return False
        if len(rnd) != RANDOM_LEN:
            return False
        if label == "CLIENT_RANDOM" and len(secret) != MASTER_LEN:
            return False
        if label != "CLIENT_RANDOM" and len(secret) not in TLS13_SECRET_LENS:
            return False
        s = self.by_random.get(rnd)
        if s is None:
            s = self.by_random[rnd] = Secrets(source)
        setattr(s, LABELS[label], secret)
        return True
