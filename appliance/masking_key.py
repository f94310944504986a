"""The masking key: the secret of the keyed hashes of personal values, kept outside the data folder.

Observations store ``HMAC-SHA256(key, data_type + value)`` so equal values can be counted and
correlated without being stored (README "Personal data in what devices send"). The space
of an IMEI sharing a known TAC or of a phone number near a known one is small enough to hash every
guess, so the key must not travel with the data: whoever copies the data folder (a backup, a
stolen disk) gets hashes that cannot be tested (issue 17: with the key in the store, a persona's
phone number came back in 142 s). The key lives in a settings file of its own, mode
0600, by default ``$XDG_CONFIG_HOME/tapaudit/masking.key`` (``~/.config`` without XDG, as the XDG
Base Directory Specification says), or where ``TAPAUDIT_MASKING_KEY_FILE`` says; or the key itself
is given by ``TAPAUDIT_MASKING_KEY`` (64 hex digits). The store keeps only the key's id
(``key_id``), to tell which key its hashes were made with.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

ENV_KEY = "TAPAUDIT_MASKING_KEY"
ENV_FILE = "TAPAUDIT_MASKING_KEY_FILE"
KEY_BYTES = 32  # HMAC-SHA256's block-size-safe key length (RFC 2104 section 3: at least L = 32 bytes)
_ID_LABEL = b"tapaudit-key-id"


class MaskingKeyError(Exception):
    """The masking key is missing, malformed, or not safely kept; the message is one line."""


def key_id(key: bytes) -> str:
    """The key's public name: 16 hex digits of HMAC(key, 'tapaudit-key-id'). It tells keys apart
    and reveals nothing of the key (HMAC is a PRF), so the store may keep it."""
    return hmac.new(key, _ID_LABEL, hashlib.sha256).hexdigest()[:16]


def key_path() -> Path:
    """Where the key file is: TAPAUDIT_MASKING_KEY_FILE, else the XDG config folder's tapaudit/."""
    given = os.environ.get(ENV_FILE)
    if given:
        return Path(given).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config) / "tapaudit" / "masking.key"


def source() -> str:
    """Where the key comes from, for messages: the environment variable or the file's path."""
    return f"${ENV_KEY}" if os.environ.get(ENV_KEY) else str(key_path())


def _parse(text: str, where: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise MaskingKeyError(f"masking key in {where} is not hex") from None
    if len(key) != KEY_BYTES:
        raise MaskingKeyError(f"masking key in {where} has {len(key)} bytes, not {KEY_BYTES}")
    return key


def load(create: bool = True) -> bytes | None:
    """The key: from TAPAUDIT_MASKING_KEY, else from the key file, made (0600, 32 random bytes) when
    missing and ``create``; None when missing and not ``create``. A key file readable or writable by
    group or others is refused: anyone who can read it can reverse the store's hashes."""
    env = os.environ.get(ENV_KEY)
    if env:
        return _parse(env, f"${ENV_KEY}")
    path = key_path()
    try:
        st = path.stat()
    except FileNotFoundError:
        if not create:
            return None
        return write(path, secrets.token_bytes(KEY_BYTES))
    except OSError as exc:
        raise MaskingKeyError(f"cannot read masking key file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise MaskingKeyError(f"masking key file {path} is not a regular file")
    if st.st_mode & 0o077:
        raise MaskingKeyError(
            f"masking key file {path} is open to group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"chmod 600 {path}"
        )
    try:
        return _parse(path.read_text(encoding="ascii", errors="replace"), str(path))
    except OSError as exc:
        raise MaskingKeyError(f"cannot read masking key file {path}: {exc.strerror}") from None


def write(path: Path, key: bytes) -> bytes:
    """Create the key file with mode 0600 from the start (never a moment readable by others), its
    folder 0700 if new; an existing file is never overwritten (O_EXCL)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise MaskingKeyError(f"masking key file {path} appeared meanwhile; run again") from None
    except OSError as exc:
        raise MaskingKeyError(f"cannot create masking key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return key
