"""The key SNS messages to HTTP/HTTPS subscribers are signed with, and its certificate.

One RSA 2048 key per home (``<home>/sns-signing.pem``, 0600, made on first use) and a self-signed
X.509 certificate for it, served unsigned at ``<endpoint>/SimpleNotificationService-<digest>.pem``
(the message's ``SigningCertURL``), so a subscriber that verifies messages as the SNS Developer
Guide describes (fetch the certificate, check ``Signature`` over the string to sign with SHA1withRSA
for ``SignatureVersion`` 1, SHA256withRSA for 2) can check Cumulo's. An RSA signature costs about
0.5 ms, so only HTTP/HTTPS deliveries are signed; queues' and functions' envelopes carry a
placeholder.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import threading
from pathlib import Path
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from cumulo.model.sns import CERT_PREFIX

__all__ = ["Signer"]



class Signer:
    """``shared``: where a cluster keeps the key and certificate every node signs with (given a
    way to make them, it answers the ones kept); None: ``path``, this home's file."""

    def __init__(self, path: Path, shared: Callable[[Callable[[], bytes]], bytes] | None = None) -> None:
        self._path = path
        self._shared = shared
        self._lock = threading.Lock()
        self._key: rsa.RSAPrivateKey | None = None
        self._cert = b""

    def _load(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._key is not None:
                return self._key
            if self._shared is not None:
                data = self._shared(_new_key)
            elif self._path.exists():
                data = self._path.read_bytes()
            else:
                data = _new_key()
                tmp = self._path.with_suffix(".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, self._path)
            key = serialization.load_pem_private_key(data, password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            self._key, self._cert = key, data[data.index(b"-----BEGIN CERTIFICATE-----"):]
            return key

    @property
    def certificate(self) -> bytes:
        """The certificate, PEM."""
        self._load()
        return self._cert

    @property
    def cert_path(self) -> str:
        """Where the certificate is served on the control plane's endpoint."""
        return f"{CERT_PREFIX}{hashlib.sha256(self.certificate).hexdigest()[:32]}.pem"

    def sign(self, data: bytes, version: str) -> str:
        """``Signature``: SHA1withRSA (version "1") or SHA256withRSA ("2"), base64."""
        digest = hashes.SHA256() if version == "2" else hashes.SHA1()   # noqa: S303 (SNS's SignatureVersion 1)
        return base64.b64encode(self._load().sign(data, padding.PKCS1v15(), digest)).decode()


def _new_key() -> bytes:
    """A new key and its self-signed certificate, PEM, one after the other."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.cumulo.local")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(
        key.public_key()).serial_number(x509.random_serial_number()).not_valid_before(
        now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650)).sign(
        key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()) + cert
