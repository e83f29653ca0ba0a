"""UCloud's request signature (spec A.3): SHA-1 over the sorted parameters and the secret.

    Signature = lower_hex(SHA1(utf8(name₁ + value₁ + name₂ + value₂ + … + PrivateKey)))

over every flattened parameter except `Signature` itself (`PublicKey` included), sorted by
name in code-point order (case-sensitive: `CPU` < `ChargeType`), with no separators and no
URL-escaping. Plain SHA-1, not HMAC. The values are the decoded texts the request carried,
so a client that signs `true` but sends `True` fails (RetCode 171), as upstream.

Called by the HTTP handler (`modelport.api.dialects.ucloud`) with the secret of the request's
`PublicKey`; pure, no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE = "Signature"


def string_to_sign(params: Mapping[str, str], private_key: str) -> str:
    signed = "".join(name + params[name] for name in sorted(params) if name != SIGNATURE)
    return signed + private_key


def sign(params: Mapping[str, str], private_key: str) -> str:
    """The signature of `params` (any `Signature` among them is left out)."""
    return hashlib.sha1(string_to_sign(params, private_key).encode("utf-8")).hexdigest()


def verify(params: Mapping[str, str], private_key: str) -> bool:
    """Whether `params["Signature"]` signs `params` under `private_key` (constant time; hex
    digits in either case)."""
    given = params.get(SIGNATURE, "").lower().encode("utf-8")
    return hmac.compare_digest(sign(params, private_key).encode("ascii"), given)
