"""The interceptor's CA and the forged certificates of the certificate-validation tests (issue 19).

The CA is made once per installation (``load_or_create_ca``) in the interceptor's state folder,
its private key mode 0600 in a 0700 folder; it is never written to the store (issue 19, point 4).
Labs that install it on a test phone read its path and SHA-256 fingerprint from the start line.

The tests follow IoTLS (Paracha et al., "IoTLS: Understanding TLS Usage in Consumer IoT Devices",
IMC 2021, section 4.1) and certmitm (A. Aapo, "certmitm", DEF CON 31): each forges one fault and
keeps the rest valid where it can:

- ``self-signed``: a leaf for the server name, signed by itself;
- ``wrong-host``: a certificate for another name: the lab's own trusted one when given
  (``Trusted``, as certmitm takes a real certificate for a domain the tester owns), else one from
  the interceptor's CA;
- ``untrusted-ca``: a leaf for the server name from the interceptor's CA (the device does not
  trust it unless the lab installed it);
- ``expired``: as ``untrusted-ca``, but its validity ended a day ago (RFC 5280 4.1.2.5);
- ``leaf-as-ca``: a leaf for the server name issued by an end-entity certificate
  (basicConstraints CA:FALSE, RFC 5280 4.2.1.9): the lab's trusted one when given, else one from
  the interceptor's CA;
- ``legacy-tls``: the ``untrusted-ca`` certificate from a server that offers only TLS 1.0 and 1.1
  (deprecated by RFC 8996).
"""

from __future__ import annotations

import datetime
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

TESTS = ("self-signed", "wrong-host", "untrusted-ca", "expired", "leaf-as-ca", "legacy-tls")
CERT_TESTS = TESTS[:5]  # the forged certificates; legacy-tls tests the protocol version
WRONG_HOST = "wrong-host.tapaudit.invalid"  # RFC 6761 6.4: .invalid never resolves
CA_FILE = "mitmproxy-ca.pem"  # key and certificate in one file, as mitmproxy's confdir wants them
CA_CERT_FILE = "mitmproxy-ca-cert.pem"  # the certificate alone, for a test phone
KEY_BITS = 2048  # RSA: every TLS version down to 1.0 can use it (ECDSA suites need TLS 1.0 + RFC 4492)
DAY = datetime.timedelta(days=1)


class CertError(Exception):
    """A certificate or key file is unreadable or does not match (one-line message)."""


@dataclass(frozen=True)
class Pem:
    """One served certificate: the chain (leaf first) and the leaf's key, PEM."""

    chain: tuple[bytes, ...]
    key: bytes


@dataclass(frozen=True)
class Trusted:
    """A certificate the devices trust, for a name other than theirs (``--wrong-host-cert``)."""

    cert: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes
    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True)
class CA:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    path: Path  # the certificate alone

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _key_pem(key: CertificateIssuerPrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tapaudit lab interceptor"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])  # fmt: skip


def _build(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name | None,
    signer: CertificateIssuerPrivateKeyTypes,
    *,
    ca: bool = False,
    san: str | None = None,
    expired: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    start, end = (now - 30 * DAY, now - DAY) if expired else (now - DAY, now + 365 * DAY)
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer or _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    if san:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
    return b.sign(signer, hashes.SHA256())


def load_or_create_ca(state_dir: str | os.PathLike[str]) -> CA:
    """The installation's CA: read from ``state_dir``, or made there on first use (key 0600)."""
    d = Path(state_dir)
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    both, alone = d / CA_FILE, d / CA_CERT_FILE
    if not both.exists():
        key = _key()
        cert = _build("tapaudit lab interceptor CA", key, None, key, ca=True)
        fd = os.open(both, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(_key_pem(key) + _pem(cert))
        alone.write_bytes(_pem(cert))
    os.chmod(both, 0o600)
    data = both.read_bytes()
    try:
        loaded = serialization.load_pem_private_key(data, None)
        cert = x509.load_pem_x509_certificate(data[data.index(b"-----BEGIN CERTIFICATE-----") :])
    except (ValueError, TypeError) as exc:
        raise CertError(f"{both}: not the interceptor's CA (key and certificate): {exc}") from None
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise CertError(f"{both}: the CA key is not RSA")
    key = loaded
    if not alone.exists():
        alone.write_bytes(_pem(cert))
    return CA(cert, key, alone)


def load_trusted(cert_path: str, key_path: str) -> Trusted:
    """The lab's certificate for a name of its own, which the devices trust (``--wrong-host-cert``)."""
    try:
        cert_pem, key_pem = Path(cert_path).read_bytes(), Path(key_path).read_bytes()
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, None)
    except (OSError, ValueError, TypeError) as exc:
        raise CertError(f"trusted certificate {cert_path}: {exc}") from None
    if cert.public_key().public_numbers() != key.public_key().public_numbers():  # type: ignore[union-attr]
        raise CertError(f"trusted certificate {cert_path}: {key_path} is not its key")
    return Trusted(cert, key, cert_pem, key_pem)  # type: ignore[arg-type]


class Forger:
    """The test certificates for each server name, made once and kept in memory (never on disk)."""

    def __init__(self, ca: CA, trusted: Trusted | None = None) -> None:
        self.ca, self.trusted = ca, trusted
        self._made: dict[tuple[str, str], Pem] = {}
        self._key = _key()  # one key for every forged leaf: the tests forge names and issuers, not keys
        self._other: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None

    def _from_ca(self, name: str, expired: bool = False) -> Pem:
        c = _build(name, self._key, self.ca.cert.subject, self.ca.key, san=name, expired=expired)
        return Pem((_pem(c), self.ca.cert_pem), _key_pem(self._key))

    def _other_leaf(self) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        """An end-entity certificate of the interceptor's CA for another name (no trusted one given)."""
        if self._other is None:
            k = _key()
            self._other = (_build(WRONG_HOST, k, self.ca.cert.subject, self.ca.key, san=WRONG_HOST), k)
        return self._other

    def cert(self, test: str, name: str) -> Pem:
        """The chain and key served for ``test`` to a device asking for ``name``."""
        got = self._made.get((test, name))
        if got is None:
            got = self._made[(test, name)] = self._make(test, name)
        return got

    def _make(self, test: str, name: str) -> Pem:
        k = self._key
        if test == "self-signed":
            c = _build(name, k, None, k, san=name)
            return Pem((_pem(c),), _key_pem(k))
        if test == "wrong-host":
            if self.trusted is not None:
                return Pem((self.trusted.cert_pem,), self.trusted.key_pem)
            oc, ok = self._other_leaf()
            return Pem((_pem(oc), self.ca.cert_pem), _key_pem(ok))
        if test in ("untrusted-ca", "legacy-tls"):
            return self._from_ca(name)
        if test == "expired":
            return self._from_ca(name, expired=True)
        if test == "leaf-as-ca":
            if self.trusted is not None:
                above: tuple[bytes, ...] = (self.trusted.cert_pem,)
                issuer, signer = self.trusted.cert, self.trusted.key
            else:
                oc, signer = self._other_leaf()
                issuer, above = oc, (_pem(oc), self.ca.cert_pem)
            c = _build(name, k, issuer.subject, signer, san=name)
            return Pem((_pem(c), *above), _key_pem(k))
        raise ValueError(f"unknown test {test!r}")
