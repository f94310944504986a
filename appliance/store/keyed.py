"""The store's side of the masking key (``appliance.masking_key``): which key its hashes were made
with, and the one check before anything needs that key.

The store keeps only the key's id (``meta`` row ``masking_key_id``), never the key. Adding a capture
hashes its values, and the hashes of two keys would not compare, so a store refuses to add a
capture under another key than its own, or with none; revealing values as sent is refused too
without the store's key: whoever holds the data folder alone may read what it shows masked, and
no more. Reading masked data needs no key.

Stores written before issue 17 kept the key itself in ``meta`` (``hash_key``). Opening one moves
the key out (``move_out``): into the key file when there is none yet, or it must equal the key
there; then the row is deleted and ``meta`` rewritten (``purge``), so the key is gone from the
files of the store. A store whose key differs from the key file's is refused in one line: the
user points ``TAPAUDIT_MASKING_KEY_FILE`` at a new path and the key is moved there.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from appliance import masking_key
from appliance.store.errors import StoreError
from appliance.store.purge import rewrite_without
from appliance.store.schema import META

KEY_ID = "masking_key_id"
LEGACY = "hash_key"


class KeyRefused(StoreError):
    """The masking key is missing, another store's, or kept where it must not be."""


class Store(Protocol):
    url: str
    database: str

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]: ...

    def execute(self, sql: str, params: Any = None) -> None: ...

    def insert(self, table: str, rows: Any, batch: int | None = None) -> None: ...


def stored_id(store: Store) -> str | None:
    """The id of the key the store's hashes were made with; None before its first capture."""
    if getattr(store, "empty", False):  # a store this process created, nothing written to it yet
        return None
    rows = store.query("SELECT value FROM {db}.meta WHERE key = %(k)s ORDER BY value LIMIT 1", {"k": KEY_ID})
    return str(rows[0]["value"]) if rows else None


def _load(create: bool, folder: str | None) -> bytes | None:
    """``masking_key.load``, its errors as the store's, refusing a key file inside ``folder``."""
    if folder and not os.environ.get(masking_key.ENV_KEY):
        path, data = os.path.realpath(masking_key.key_path()), os.path.realpath(folder)
        if os.path.commonpath([path, data]) == data:
            raise KeyRefused(
                f"masking key file {path} is inside the data folder {folder}: keep it elsewhere "
                f"(${masking_key.ENV_FILE})"
            )
    try:
        return masking_key.load(create=create)
    except masking_key.MaskingKeyError as exc:
        raise KeyRefused(str(exc)) from None


def key_for(store: Store, purpose: str, folder: str | None = None, create: bool = True) -> bytes:
    """The masking key for ``purpose`` ('add captures', 'reveal values'), checked against the store's
    key id; a store without one yet takes this key's id (when ``create``). ``folder``: the store's
    data folder, which must not hold the key file."""
    want = stored_id(store)
    if want is None and not create:
        return b""  # a store that never took a capture: nothing hashed, nothing to reveal
    key = _load(want is None, folder)
    if key is None:
        raise KeyRefused(
            f"cannot {purpose}: store {store.url} needs masking key id {want}, "
            f"and there is no key at {masking_key.source()} (set ${masking_key.ENV_FILE})"
        )
    have = masking_key.key_id(key)
    if want is None:  # the store's first capture: its hashes are this key's from now on
        store.insert("meta", [META.row(key=KEY_ID, value=have)])
    elif have != want:
        raise KeyRefused(
            f"cannot {purpose}: store {store.url} needs masking key id {want}, "
            f"the key at {masking_key.source()} has id {have} (set ${masking_key.ENV_FILE})"
        )
    return key


def move_out(store: Store, folder: str | None = None) -> bool:
    """Move a key kept in ``meta`` (stores before issue 17) out to the key file and delete it from
    the store's files; True if there was one. Refused when the key file holds another key."""
    rows = store.query("SELECT value FROM {db}.meta WHERE key = %(k)s ORDER BY value LIMIT 1", {"k": LEGACY})
    if not rows:
        return False
    try:
        legacy = bytes.fromhex(str(rows[0]["value"]))
    except ValueError:
        raise KeyRefused(f"store {store.url} holds a malformed masking key in meta") from None
    have = _load(False, folder)
    if have is None:  # no key yet (the environment gives none): the store's becomes the key file
        try:
            masking_key.write(masking_key.key_path(), legacy)
        except masking_key.MaskingKeyError as exc:
            raise KeyRefused(str(exc)) from None
    elif have != legacy:
        raise KeyRefused(
            f"store {store.url} holds its own masking key (id {masking_key.key_id(legacy)}), and "
            f"{masking_key.source()} holds another (id {masking_key.key_id(have)}): set "
            f"${masking_key.ENV_FILE} to a new path to move the store's key out there"
        )
    if stored_id(store) is None:
        store.insert("meta", [META.row(key=KEY_ID, value=masking_key.key_id(legacy))])
    rewrite_without(store, "meta", f"key = '{LEGACY}'", order="key, toUInt32OrZero(value)")
    return True
