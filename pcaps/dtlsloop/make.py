"""CoAP over DTLS captures from OpenSSL's s_client and s_server over loopback, with the client's
key log (``s_client -keylogfile``): the DTLS record layers tapaudit decrypts, checked against
``tshark -o tls.keylog_file`` (tests/parsers/test_dtls_decrypt.py).

Each case: the client sends a CoAP POST of a location report (with an IMEI) and a GET with a
query, one per datagram; the server answers with a CoAP ACK 2.04 Changed. Port 5684 (CoAP over
DTLS, RFC 7252 12.8), where tshark reads the plaintext as CoAP. Needs root (dumpcap on lo),
openssl 3 and editcap. Run from anywhere: ``python pcaps/dtlsloop/make.py [NAME ...]`` rewrites
NAME.pcap and NAME.keylog beside this file (every case without names).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PORT = 5684
IMEI = "490154203237518"  # a valid Luhn IMEI (GSMA's documentation example)
TOKEN = b"\x5a\x17\xc0\xde"

# name: (s_client options, s_server options)
CASES = {
    "dtls12-gcm": ("-dtls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256", ""),
    "dtls12-chacha": ("-dtls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305", ""),
    # RFC 7925's CoAP profile (not in s_server's default list)
    "dtls12-ccm8": ("-dtls1_2 -cipher ECDHE-ECDSA-AES128-CCM8", "-cipher ECDHE-ECDSA-AES128-CCM8"),
    "dtls12-cbc-etm": ("-dtls1_2 -cipher ECDHE-ECDSA-AES256-SHA384", ""),
    "dtls12-cbc-mte": ("-dtls1_2 -no_etm -cipher ECDHE-ECDSA-AES128-SHA", ""),
    "dtls10-cbc": ("-dtls1 -cipher ECDHE-ECDSA-AES128-SHA@SECLEVEL=0", "-cipher ALL@SECLEVEL=0"),
}


def coap(mtype: int, code: int, mid: int, options: list[tuple[int, bytes]], payload: bytes = b"") -> bytes:
    """One CoAP message (RFC 7252 3), options given in number order, each under 13 bytes."""
    out = bytearray([0x40 | mtype << 4 | len(TOKEN), code]) + mid.to_bytes(2, "big") + TOKEN
    last = 0
    for number, value in options:
        delta, last = number - last, number
        assert delta < 13 and len(value) < 13
        out += bytes([delta << 4 | len(value)]) + value
    return bytes(out + (b"\xff" + payload if payload else b""))


def messages() -> tuple[list[bytes], list[bytes]]:
    """(client's, server's) CoAP messages: POST /loc/report, GET /cfg?dev=watch; ACK 2.04."""
    report = json.dumps({"imei": IMEI, "lat": 31.230416, "lng": 121.473701}).encode()
    post = coap(0, 2, 0x1001, [(11, b"loc"), (11, b"report"), (12, b"\x32")], report)  # JSON format
    get = coap(0, 1, 0x1002, [(11, b"cfg"), (15, b"dev=watch")])
    ack = coap(2, 0x44, 0x1001, [])
    return [post, get], [ack]


def make(name: str, client_opts: str, server_opts: str, work: Path) -> None:
    keylog = HERE / f"{name}.keylog"
    keylog.unlink(missing_ok=True)
    capture = work / f"{name}.pcapng"
    dump = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-f", f"udp port {PORT}", "-w", str(capture)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(1)
    server = subprocess.Popen(
        ["openssl", "s_server", "-quiet", "-naccept", "1", "-accept", f"127.0.0.1:{PORT}",
         "-cert", str(work / "c.pem"), "-key", str(work / "k.pem"), *server_opts.split(),
         "-dtls" if "-dtls1 " in client_opts else "-dtls1_2"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5)
    client = subprocess.Popen(
        ["openssl", "s_client", "-nocommands", "-connect", f"127.0.0.1:{PORT}",
         "-servername", "coap.device.test", "-keylogfile", str(keylog), *client_opts.split()],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert client.stdin is not None and server.stdin is not None
    time.sleep(1)
    sent, answers = messages()
    client.stdin.write(sent[0])
    client.stdin.flush()
    time.sleep(0.3)
    server.stdin.write(answers[0])
    server.stdin.flush()
    time.sleep(0.3)
    client.stdin.write(sent[1])
    client.stdin.flush()
    time.sleep(0.5)
    client.stdin.close()
    client.wait(10)
    server.stdin.close()
    server.wait(10)
    time.sleep(0.5)
    dump.terminate()
    dump.wait(10)
    subprocess.run(["editcap", "-F", "pcap", str(capture), str(HERE / f"{name}.pcap")], check=True)
    if "CLIENT_RANDOM" not in keylog.read_text():
        sys.exit(f"{name}: s_client logged no key")


def main(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(work / "k.pem"), "-out", str(work / "c.pem"), "-days", "2",
             "-subj", "/CN=coap.device.test"],
            check=True, capture_output=True,
        )  # fmt: skip
        for name in names or CASES:
            make(name, *CASES[name], work)


if __name__ == "__main__":
    main(sys.argv[1:])
