"""Verify `X-Abyssale-Signature` on webhook and `callback_url` deliveries.

Scheme (reference §Webhooks): `X-Abyssale-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`, where each
`v1` is HMAC-SHA256 (hex) with a workspace secret over `b"v1:webhook:" + t + b"." + raw_body`.
During a 24 h rotation two `v1` values are sent, and we may hold two secrets, so any pair that
matches is enough. Verification uses the raw bytes exactly as received; never re-serialised JSON.
Deduplicate on `X-Abyssale-Delivery-Id` (stable across retries, while `t` changes per attempt).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "x-abyssale-signature"
DELIVERY_ID_HEADER = "x-abyssale-delivery-id"
DEFAULT_TOLERANCE = 300
_PREFIX = b"v1:webhook:"
_DIGITS = re.compile(r"\A\d{1,12}\Z")
_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")


def compute_signature(secret: str, timestamp: int, raw_body: bytes) -> str:
    """The `v1` value Abyssale sends for `raw_body` signed at `timestamp`."""
    message = _PREFIX + str(timestamp).encode("ascii") + b"." + raw_body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def parse_signature_header(header_value: str | None) -> tuple[int | None, list[str]]:
    """`(t, [v1, ...])` from the header; `t` is None when absent or malformed. Never raises."""
    if not header_value:
        return None, []
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header_value.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "t" and timestamp is None and _DIGITS.match(value):
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    return timestamp, signatures


def verify_signature(
    header_value: str | None,
    raw_body: bytes,
    secrets: Sequence[str],
    *,
    now: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> bool:
    """True when some `v1` in the header was made by one of `secrets` over `raw_body`, and `t` is
    within `tolerance` seconds of `now`. Every malformed or hostile input is simply False."""
    timestamp, signatures = parse_signature_header(header_value)
    usable = [s for s in secrets if s]
    if timestamp is None or not signatures or not usable:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    # compare_digest raises on non-ASCII str, and the header is attacker-controlled.
    candidates = [s.encode("ascii") for s in signatures if s.isascii()]
    matched = False
    for secret in usable:
        expected = compute_signature(secret, timestamp, raw_body).encode("ascii")
        for candidate in candidates:
            # No early exit: the time taken must not depend on which pair matched.
            matched |= hmac.compare_digest(expected, candidate)
    return matched


def valid_delivery_id(value: str | None) -> bool:
    """A delivery id is 64 lowercase hex characters; anything else is not from Abyssale."""
    return bool(value) and _HEX64.match(value or "") is not None
