"""Pass-through hosts: TLS to them is not intercepted, for the profiles that list them."""

from __future__ import annotations

import socket
import ssl

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from .conftest import CHILD, TEEN, Proxy
from .upstream import Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def issuer_through_proxy(proxy: Proxy, source: str, host: str, port: int) -> str:
    """CONNECT through the proxy from ``source`` and return the issuer CN the client sees."""
    with socket.create_connection(("127.0.0.1", proxy.port), 20, (source, 0)) as s:
        s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += s.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # only looking at who signed the certificate
        with ctx.wrap_socket(s, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der
    cert = x509.load_der_x509_certificate(der)
    return str(cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_passthrough_host_is_not_intercepted(proxy: Proxy, upstream: Upstream) -> None:
    # The teen profile lists "localhost"; the child profile lists nothing.
    assert issuer_through_proxy(proxy, TEEN, "localhost", upstream.https_port) == (
        "qinglang test upstream"
    )
    assert issuer_through_proxy(proxy, CHILD, "localhost", upstream.https_port) == "mitmproxy"
    # Other hosts are intercepted for the teen too.
    assert issuer_through_proxy(proxy, TEEN, "127.0.0.1", upstream.https_port) == "mitmproxy"


def test_passthrough_page_arrives_as_the_server_sent_it(proxy: Proxy, upstream: Upstream) -> None:
    ctx = ssl.create_default_context(cafile=upstream.cert)  # the server's own certificate
    with socket.create_connection(("127.0.0.1", proxy.port), 20, (TEEN, 0)) as s:
        port = upstream.https_port
        s.sendall(f"CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += s.recv(4096)
        with ctx.wrap_socket(s, server_hostname="localhost") as tls:
            tls.sendall(b"GET /block.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    assert data.startswith(b"HTTP/1.1 200")
    assert data.endswith(upstream.pages["/block.html"].body)
