"""HMAC-SHA256 frame signatures, as Jupyter signs its messages, over the exact payload bytes.

The signature covers the payload *as a byte string* (the `msg` entry of the frame), never a re-encoding
of decoded data, so two implementations never have to agree on a canonical CBOR form.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_SIZE", "sign", "verify"]

SIGNATURE_SIZE = 32


def sign(key: bytes, payload: bytes) -> bytes:
    """The 32-byte HMAC-SHA256 of `payload` under `key`."""
    return hmac.new(key, payload, hashlib.sha256).digest()


def verify(key: bytes, payload: bytes, signature: bytes) -> bool:
    """True when `signature` is `payload`'s signature under `key`; compares in constant time."""
    return hmac.compare_digest(sign(key, payload), signature)
