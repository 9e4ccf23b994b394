"""The proxy's CA certificate, in the formats devices import, and nothing else.

Only the certificate files of mitmproxy's confdir are ever opened
(``mitmproxy-ca-cert.pem`` and ``mitmproxy-ca-cert.p12``); the files holding the CA's
private key (``mitmproxy-ca.pem``, ``mitmproxy-ca.p12``) are never read here, and a
certificate file that carries a key anyway is refused rather than served.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

# The name qinglang gives its own CA (deploy/ca.py makes it); an older install's CA,
# made by mitmproxy, is named "mitmproxy".
CA_NAME = "qinglang 清朗 home filter"
CERT_PEM = "mitmproxy-ca-cert.pem"
CERT_P12 = "mitmproxy-ca-cert.p12"  # mitmproxy writes it with the certificate alone
# What a device downloads: name -> (content type, what it is for).
DOWNLOADS = {
    "qinglang-ca.pem": "application/x-x509-ca-cert",  # iOS, macOS, Linux, Firefox
    "qinglang-ca.crt": "application/x-x509-ca-cert",  # DER: Windows, Android, ChromeOS
    "qinglang-ca.p12": "application/x-pkcs12",  # certificate only, for tools that want it
}


class NoCertificate(Exception):
    """The CA has not been made yet (mitmproxy makes it when it first starts)."""


@dataclass(frozen=True, slots=True)
class CaFiles:
    pem: bytes
    der: bytes
    p12: bytes | None
    sha256: str  # AA:BB:... as the platforms show it
    sha1: str  # older Android and Windows show SHA-1
    subject: str
    not_after: str
    name: str = ""  # the certificate's common name: what certificate stores list it as


def _colons(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


def load(confdir: str | Path) -> CaFiles:
    base = Path(confdir).expanduser()
    try:
        pem = (base / CERT_PEM).read_bytes()
    except OSError:
        raise NoCertificate(f"no CA certificate in {base} yet") from None
    if b"PRIVATE KEY" in pem:
        raise NoCertificate(f"{base / CERT_PEM} holds a private key: not served")
    cert = x509.load_pem_x509_certificate(pem)
    der = cert.public_bytes(serialization.Encoding.DER)
    p12: bytes | None = None
    try:
        raw = (base / CERT_P12).read_bytes()
        key, p12_cert, extra = pkcs12.load_key_and_certificates(raw, None)
        # mitmproxy stores the certificate as an "additional" one, with no key at all.
        if key is None and [c for c in (p12_cert, *extra) if c is not None] == [cert]:
            p12 = raw
    except (OSError, ValueError):
        p12 = None
    return CaFiles(
        pem=cert.public_bytes(serialization.Encoding.PEM),
        der=der,
        p12=p12,
        sha256=_colons(cert.fingerprint(hashes.SHA256())),
        sha1=_colons(cert.fingerprint(hashes.SHA1())),
        subject=cert.subject.rfc4514_string(),
        not_after=cert.not_valid_after_utc.date().isoformat(),
        name=_common_name(cert),
    )


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    value = names[0].value if names else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def body(files: CaFiles, name: str) -> bytes | None:
    if name == "qinglang-ca.pem":
        return files.pem
    if name == "qinglang-ca.crt":
        return files.der
    if name == "qinglang-ca.p12":
        return files.p12
    return None
