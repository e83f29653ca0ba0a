"""Secrets: API keys hashed (SHA-256 of a 256-bit random token), readable secrets encrypted.

Service keys must be read back (the clouds' APIs return them), so they are encrypted at rest
with Fernet (AES-128-CBC + HMAC) under a key kept in `$MODELPORT_HOME/secret.key` or given by
setting. API keys are only ever compared, so only their hash is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken

from modelport.domain.errors import PermanentError


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class Cipher:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @staticmethod
    def new_key() -> bytes:
        return Fernet.generate_key()

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise PermanentError("a stored secret cannot be decrypted: wrong secret key?") from exc
