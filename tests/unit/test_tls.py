"""The embedded cluster's certificates pass X.509-strict verification (Python 3.13+'s default).

Python 3.13's ssl.create_default_context sets VERIFY_X509_STRICT, which rejects a CA without a Subject Key
Identifier and a serving certificate without an Authority Key Identifier ("Missing Authority Key Identifier"):
`cluster up` never became ready. The flag is set explicitly here, so these tests check it on every Python.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kai_labs.sim.apiserver import tls

FILES = ("ca.crt", "server.crt", "server.key")


def strict_client(cafile: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    return ctx


def strict_handshake(home: Path, client: ssl.SSLContext | None = None) -> dict[str, object]:
    """A real TLS handshake on loopback: tls.server_context(home) against a strict client; returns the peer cert."""
    server = tls.server_context(home)
    client = client or strict_client(home / "ca.crt")
    with socket.socket() as ls:
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        errors: list[BaseException] = []

        def accept() -> None:
            conn, _ = ls.accept()
            try:
                with server.wrap_socket(conn, server_side=True) as s:
                    s.recv(1)  # wait for the client to close
            except (OSError, ssl.SSLError) as e:
                errors.append(e)

        t = threading.Thread(target=accept, daemon=True)
        t.start()
        try:
            with socket.create_connection(ls.getsockname(), timeout=5) as raw, \
                    client.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                peer = s.getpeercert()
        finally:
            t.join(5)
    assert peer
    return peer


def write_old_style_certs(home: Path, *, not_after: dt.datetime | None = None, modern: bool = False) -> None:
    """Certificates as kai_labs.sim.apiserver.tls made them before the fix: a CA without a Subject Key Identifier and a
    serving certificate without an Authority Key Identifier (modern=True adds both, for the expiry test)."""
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    later = not_after or now + dt.timedelta(days=3650)
    before = min(now, later - dt.timedelta(days=1))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kai-labs-ca")])
    ca_b = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(before).not_valid_after(later)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True))
    ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    if modern:
        ca_b = ca_b.add_extension(ski, critical=False)
    ca = ca_b.sign(ca_key, hashes.SHA256())
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv_b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
             .issuer_name(ca_name).public_key(srv_key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(before).not_valid_after(later)
             .add_extension(x509.SubjectAlternativeName([
                 x509.DNSName("localhost"), x509.DNSName("kubernetes"), x509.DNSName("kubernetes.default"),
                 x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                 x509.IPAddress(ipaddress.ip_address("10.96.0.1"))]), critical=False)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    if modern:
        srv_b = (srv_b.add_extension(x509.SubjectKeyIdentifier.from_public_key(srv_key.public_key()), critical=False)
                 .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False))
    srv = srv_b.sign(ca_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    home.mkdir(parents=True, exist_ok=True)
    (home / "ca.crt").write_bytes(ca.public_bytes(pem))
    (home / "server.crt").write_bytes(srv.public_bytes(pem))
    (home / "server.key").write_bytes(
        srv_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    for f in FILES:
        (home / f).chmod(0o600)


def contents(home: Path) -> dict[str, bytes]:
    return {f: (home / f).read_bytes() for f in FILES}


def assert_all_new(home: Path, old: dict[str, bytes]) -> None:
    new = contents(home)
    assert all(new[f] != old[f] for f in FILES), "the CA, the certificate and the key are replaced together"
    for f in FILES:
        assert stat.S_IMODE((home / f).stat().st_mode) == 0o600, f
    assert not list(home.glob("*.tmp"))


def test_a_new_home_passes_a_strict_handshake(tmp_path: Path) -> None:
    ca_crt, crt, key = tls.ensure(tmp_path)
    for p in (ca_crt, crt, key):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    peer = strict_handshake(tmp_path)
    assert ("IP Address", "127.0.0.1") in peer["subjectAltName"]
    assert tls.usable(tmp_path)


def test_the_certificates_carry_what_strict_verification_needs(tmp_path: Path) -> None:
    tls.ensure(tmp_path)
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    srv = x509.load_pem_x509_certificate((tmp_path / "server.crt").read_bytes())
    ext = lambda cert, cls: cert.extensions.get_extension_for_class(cls)  # noqa: E731
    ca_ski = ext(ca, x509.SubjectKeyIdentifier).value
    assert ext(ca, x509.BasicConstraints).value.ca and ext(ca, x509.BasicConstraints).critical
    assert ext(ca, x509.KeyUsage).value.key_cert_sign
    assert ext(srv, x509.AuthorityKeyIdentifier).value.key_identifier == ca_ski.digest
    assert ext(srv, x509.SubjectKeyIdentifier).value.digest != ca_ski.digest
    assert not ext(srv, x509.BasicConstraints).value.ca
    assert ext(srv, x509.KeyUsage).value.digital_signature
    assert list(ext(srv, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    sans = ext(srv, x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost", "kubernetes", "kubernetes.default"]
    assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "10.96.0.1"]


def test_good_certificates_are_kept(tmp_path: Path) -> None:
    tls.ensure(tmp_path)
    before = contents(tmp_path)
    tls.ensure(tmp_path)
    tls.server_context(tmp_path)
    assert contents(tmp_path) == before


def test_old_style_certificates_fail_strict_verification(tmp_path: Path) -> None:
    """What Python 3.13 saw: the pre-fix certificates do not verify under VERIFY_X509_STRICT."""
    write_old_style_certs(tmp_path)
    assert not tls.usable(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    cli = strict_client(tmp_path / "ca.crt").wrap_bio(c_in, c_out, server_hostname="127.0.0.1")
    srv = server.wrap_bio(s_in, s_out, server_side=True)
    with pytest.raises(ssl.SSLCertVerificationError, match="Key Identifier"):
        for _ in range(10):
            for obj in (cli, srv):
                with contextlib.suppress(ssl.SSLWantReadError):
                    obj.do_handshake()
            s_in.write(c_out.read())
            c_in.write(s_out.read())


def test_a_home_with_old_style_certificates_is_regenerated(tmp_path: Path) -> None:
    write_old_style_certs(tmp_path)
    old = contents(tmp_path)
    tls.ensure(tmp_path)
    assert_all_new(tmp_path, old)
    strict_handshake(tmp_path)
    # and the handshake through server_context (which calls ensure) on the same home
    again = contents(tmp_path)
    strict_handshake(tmp_path, tls.client_context(tmp_path))
    assert contents(tmp_path) == again


def test_server_context_regenerates_old_style_certificates(tmp_path: Path) -> None:
    """The cluster process only calls server_context: that alone must heal a pre-fix home."""
    write_old_style_certs(tmp_path)
    old = contents(tmp_path)
    strict_handshake(tmp_path)
    assert_all_new(tmp_path, old)


@pytest.mark.parametrize("damage", ["garbage-cert", "garbage-ca", "missing-key", "other-key", "other-ca", "expired",
                                    "expiring"])
def test_broken_or_expiring_certificates_are_regenerated(tmp_path: Path, damage: str) -> None:
    home = tmp_path / "home"
    if damage in ("expired", "expiring"):
        when = dt.timedelta(days=-1) if damage == "expired" else dt.timedelta(days=1)
        write_old_style_certs(home, not_after=dt.datetime.now(dt.timezone.utc) + when, modern=True)
    else:
        other = tmp_path / "other"
        home.mkdir()
        other.mkdir()
        tls.ensure(home)
        tls.ensure(other)
        if damage == "garbage-cert":
            (home / "server.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n")
        elif damage == "garbage-ca":
            (home / "ca.crt").write_bytes(b"")
        elif damage == "missing-key":
            (home / "server.key").unlink()
        elif damage == "other-key":
            (home / "server.key").write_bytes((other / "server.key").read_bytes())
        elif damage == "other-ca":
            (home / "ca.crt").write_bytes((other / "ca.crt").read_bytes())
    assert not tls.usable(home)
    tls.ensure(home)
    assert tls.usable(home)
    strict_handshake(home)


def test_client_context_is_strict_on_every_python(tmp_path: Path) -> None:
    tls.ensure(tmp_path)
    ctx = tls.client_context(tmp_path)
    assert ctx.verify_flags & ssl.VERIFY_X509_STRICT
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
