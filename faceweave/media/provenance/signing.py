"""The key and certificate that sign C2PA manifests.

By default each user gets a key of their own, made on first use in the user's config directory
(``$XDG_CONFIG_HOME/faceweave`` or ``~/.config/faceweave``; files 0600, folder 0700). c2pa-rs checks
the signing certificate's profile (no self-signed end-entity, ``digitalSignature`` key usage, an
allowed extended key usage), so faceweave makes a small local CA and an end-entity certificate
(ECDSA P-256, ES256) issued by it; the CA's private key is discarded once the certificate is
issued. Public validators know neither, so they show such manifests as signed by an *unknown
signer*: the manifest still proves the file is unchanged since faceweave signed it, not who ran it.

A user may bring their own key and certificate chain (``--sign-key`` / ``--sign-cert``, PEM).
Keys never go into outputs or logs; only the certificate's subject is reported.
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)

KEY_FILE = "c2pa-signing-key.pem"
CERT_FILE = "c2pa-signing-cert.pem"  # end-entity certificate followed by the local CA certificate


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/faceweave`` (default ``~/.config/faceweave``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "faceweave"


@dataclass(frozen=True)
class SigningIdentity:
    """PEM key and certificate chain, and the algorithm name c2pa expects (es256, ps256, ed25519, ...)."""

    key_pem: bytes
    cert_pem: bytes
    alg: str
    source: str  # "user config" or the path of a user-supplied certificate

    def __repr__(self) -> str:  # never show the key
        return f"SigningIdentity(alg={self.alg!r}, source={self.source!r})"


def _alg_for(key: object) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, ec.EllipticCurvePrivateKey):
        bits = key.curve.key_size
        return {256: "es256", 384: "es384", 521: "es512"}.get(bits, "")
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    return ""


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start (never world-readable, not even briefly)."""
    tmp = path.with_name(f".{path.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make_user_identity(folder: Path, days: int = 3650) -> None:
    """Create a local CA, an ES256 end-entity certificate issued by it, and save key + chain in ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    user = os.environ.get("USER") or "user"
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"faceweave local CA ({user})"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "faceweave (self-signed, unverified)")])
    ku = dict(content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False,
              encipher_only=False, decipher_only=False)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **ku), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"faceweave user signer ({user})"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "faceweave (self-signed, unverified)")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **ku),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    _write_private(folder / CERT_FILE, chain)
    _write_private(folder / KEY_FILE, key_pem)
    log.info("made a C2PA signing key and certificate in %s (self-signed: validators show 'unknown signer')",
             folder)


def load_identity(key_path: str | os.PathLike[str], cert_path: str | os.PathLike[str], source: str) -> SigningIdentity:
    """Read a PEM private key and certificate chain; a bad file is a one-line error naming it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    kp, cp = Path(key_path), Path(cert_path)
    for p, what in ((kp, "--sign-key"), (cp, "--sign-cert")):
        if not p.is_file():
            raise FaceweaveError(f"{what} {p}: no such file")
    key_pem, cert_pem = kp.read_bytes(), cp.read_bytes()
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as e:
        raise FaceweaveError(f"--sign-key {kp}: not an unencrypted PEM private key ({e})") from None
    try:
        certs = x509.load_pem_x509_certificates(cert_pem)
    except ValueError as e:
        raise FaceweaveError(f"--sign-cert {cp}: not a PEM certificate chain ({e})") from None
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if certs[0].public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise FaceweaveError(f"--sign-cert {cp}: its first certificate does not belong to --sign-key {kp}")
    alg = _alg_for(key)
    if not alg:
        raise FaceweaveError(f"--sign-key {kp}: unsupported key type (use EC P-256/384/521, RSA or Ed25519)")
    return SigningIdentity(key_pem, cert_pem, alg, source)


def user_identity(folder: Path | None = None) -> SigningIdentity:
    """The per-user identity, created on first use."""
    d = folder or config_dir()
    if not (d / KEY_FILE).is_file() or not (d / CERT_FILE).is_file():
        try:
            make_user_identity(d)
        except OSError as e:
            raise FaceweaveError(f"cannot create the signing key in {d} ({e.strerror or e}); "
                                 "give --sign-key/--sign-cert or --no-provenance") from None
    mode = (d / KEY_FILE).stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o); fixing to 0600", d / KEY_FILE, mode)
        os.chmod(d / KEY_FILE, 0o600)
    return load_identity(d / KEY_FILE, d / CERT_FILE, "user config")
