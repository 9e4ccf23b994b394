"""qinglang's own certificate authority, made in the data directory before mitmproxy
starts, so every certificate store a parent looks in names it as qinglang.

mitmproxy reads its CA from ``mitmproxy-ca.pem`` in its confdir and makes one named
"mitmproxy" only when that file is missing. Here the same files are made first, by
mitmproxy's own ``CertStore.create_store`` (the PEM with the key, the PKCS#12 files, the
certificate alone in PEM and DER), only with a name a parent recognises. A CA that is
already there is never touched: devices that trust it keep working.
"""

from __future__ import annotations

from pathlib import Path

from qinglang.store.cafiles import CA_NAME

CA_ORGANIZATION = "qinglang 清朗"
BASENAME = "mitmproxy"  # the file names mitmproxy looks for in its confdir
KEY_SIZE = 2048  # mitmproxy's default key_size option


def ensure(confdir: Path) -> bool:
    """Make the CA in ``confdir`` unless one is there; True if it was made now.

    Raises OSError when the folder cannot be written."""
    from mitmproxy.certs import CertStore

    if (confdir / f"{BASENAME}-ca.pem").exists():
        return False
    # create_store writes the key files under a 0077 umask (owner only).
    CertStore.create_store(confdir, BASENAME, KEY_SIZE, organization=CA_ORGANIZATION, cn=CA_NAME)
    return True
