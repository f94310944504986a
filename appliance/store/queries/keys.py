"""What the store knows of a capture's TLS keys (issue 16): the key files it was replayed with
(path, sha256: never the secrets), its TLS flows' ClientHello randoms, and the key lines kept only
when the replay was asked for ``--raw-evidence``. Evidence reads these to hand over a finding's keys."""

from __future__ import annotations

from appliance.store.backends import Store
from appliance.store.queries.scope import Rows, scope


def capture_keys(store: Store, capture_id: str | None = None) -> Rows:
    """The key files of one capture's current run (or of every stored capture's): capture, path,
    sha256, kind, lines, bad lines."""
    where, params = scope([capture_id] if capture_id else None)
    return store.query(
        f"""SELECT capture_id, path, sha256, kind, lines, bad_lines FROM {{db}}.capture_keys WHERE {where}
        ORDER BY capture_id, kind, path""",
        params,
    )


def client_randoms(store: Store, capture_id: str, flow_ids: list[int]) -> list[str]:
    """The ClientHello randoms (hex) of these flows' TLS handshakes in the capture's current run."""
    where, params = scope([capture_id])
    rows = store.query(
        f"""SELECT DISTINCT client_random FROM {{db}}.tls
        WHERE {where} AND has(%(ids)s, flow_id) AND client_random != '' ORDER BY client_random""",
        {**params, "ids": [int(i) for i in flow_ids]},
    )
    return [str(r["client_random"]) for r in rows]


def raw_key_lines(store: Store, capture_id: str, randoms: list[str]) -> list[str]:
    """Key log lines kept with --raw-evidence for these client randoms (hex); [] when none were kept."""
    where, params = scope([capture_id])
    rows = store.query(
        f"""SELECT line FROM {{db}}.capture_key_lines
        WHERE {where} AND has(%(r)s, client_random) ORDER BY client_random, line""",
        {**params, "r": list(randoms)},
    )
    return [str(r["line"]) for r in rows]
