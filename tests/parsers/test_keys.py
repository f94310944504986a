"""The key log reader on the real key logs of ../shared/pcaps/tls-decryption and on cut or wrong lines."""

from __future__ import annotations

from parsers.decrypt.keys import DSB, DSB_TLS, KEYLOG, KeyLog
from tests.support.paths import shared_path


def test_real_key_log_gives_the_master_secret_by_client_random() -> None:
    path = shared_path("tls-decryption", "tls12-decryption.keylog")
    keys = KeyLog()
    src = keys.add_file(str(path))
    assert (src.lines, src.bad_lines, src.kind) == (1, 0, KEYLOG)
    rnd = bytes.fromhex(path.read_text().split()[1])
    s = keys.lookup(rnd)
    assert s is not None and s.tls12 and len(s.master_secret) == 48 and not s.tls13
    assert s.master_secret.hex() not in repr(s) + repr(keys)  # secrets never printed


def test_tls13_lines_cut_and_wrong_lines_are_counted_not_fatal() -> None:
    rnd = "ab" * 32
    text = "\n".join(
        [
            "# a comment",
            f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {rnd} {'11' * 32}",
            f"SERVER_HANDSHAKE_TRAFFIC_SECRET {rnd} {'22' * 32}",
            f"CLIENT_TRAFFIC_SECRET_0 {rnd} {'33' * 32}",
            f"SERVER_TRAFFIC_SECRET_0 {rnd} {'44' * 32}",
            f"CLIENT_TRAFFIC_SECRET_N {rnd} {'77' * 32}",  # after a KeyUpdate (OpenSSL 3): valid, unneeded
            f"CLIENT_RANDOM {'cd' * 31} {'55' * 48}",  # random too short
            f"CLIENT_RANDOM {'cd' * 32} {'55' * 47}",  # master secret too short
            f"NOT_A_LABEL {rnd} {'66' * 32}",
            f"SERVER_TRAFFIC_SECRET_0 {rnd} 4",  # cut mid-line (odd hex)
        ]
    )
    keys = KeyLog()
    assert keys.add_text(text) == (5, 4)
    s = keys.lookup(bytes.fromhex(rnd))
    assert s is not None and s.tls13 and s.server_traffic_0 == bytes.fromhex("44" * 32)


def test_a_dsb_of_tls_key_log_lines_is_taken_and_others_ignored() -> None:
    keys = KeyLog()
    line = f"CLIENT_RANDOM {'01' * 32} {'02' * 48}\n".encode()
    assert not keys.add_dsb(0x57474B4C, line)  # WireGuard keys: not ours
    assert keys.add_dsb(DSB_TLS, line, "capture.pcapng")
    s = keys.lookup(bytes.fromhex("01" * 32))
    assert s is not None and s.source == DSB and keys.sources[-1].kind == DSB
