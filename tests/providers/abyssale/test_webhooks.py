"""Webhook signature verification, cross-checked against the official SDK's verifier."""

from __future__ import annotations

import random

import pytest
from abyssale.webhooks import verify_webhook_signature

from genmcp.providers.abyssale.webhooks import (
    compute_signature,
    parse_signature_header,
    valid_delivery_id,
    verify_signature,
)

SECRET = "whsec_2f1a8c4e6b9d0a7c3e5f8b1d4a6c9e2f0b3d5a7c1e4f6b8d0a2c5e7f9b1d3a5c"
OLD_SECRET = "whsec_old0000000000000000000000000000000000000000000000000000000000"
NOW = 1_760_000_000
BODY = b'{"id":"7f0c1c9e-2f7b-4d0e-9a61-3c2b1d0e9f8a","banners":[],"errors":[]}'


def header(t: int, *secrets: str, body: bytes = BODY) -> str:
    return f"t={t}," + ",".join(f"v1={compute_signature(s, t, body)}" for s in secrets)


def test_a_good_signature_verifies():
    assert verify_signature(header(NOW, SECRET), BODY, [SECRET], now=NOW)


def test_a_bad_signature_or_a_changed_body_fails():
    assert not verify_signature(header(NOW, "whsec_wrong"), BODY, [SECRET], now=NOW)
    assert not verify_signature(header(NOW, SECRET), BODY + b" ", [SECRET], now=NOW)
    assert not verify_signature(header(NOW, SECRET), BODY, [], now=NOW)
    assert not verify_signature(header(NOW, SECRET), BODY, [""], now=NOW)


@pytest.mark.parametrize("skew", [-301, 301, 10_000])
def test_a_stale_or_future_timestamp_fails(skew: int):
    assert not verify_signature(header(NOW + skew, SECRET), BODY, [SECRET], now=NOW)
    assert verify_signature(header(NOW + skew, SECRET), BODY, [SECRET], now=NOW, tolerance=abs(skew))


def test_two_v1_values_during_a_rotation_verify_with_either_secret():
    rotating = header(NOW, SECRET, OLD_SECRET)
    assert verify_signature(rotating, BODY, [SECRET], now=NOW)
    assert verify_signature(rotating, BODY, [OLD_SECRET], now=NOW)
    assert verify_signature(header(NOW, OLD_SECRET), BODY, ["whsec_unrelated", OLD_SECRET], now=NOW)


@pytest.mark.parametrize(
    "value",
    [None, "", "v1=abc", "t=abc,v1=abc", "t=+12,v1=abc", f"t={NOW}", f"t={NOW},v1=é", "garbage", f"t={NOW},,=,v1="],
)
def test_malformed_headers_fail_without_raising(value: str | None):
    assert not verify_signature(value, BODY, [SECRET], now=NOW)


def test_header_parsing_keeps_every_v1():
    assert parse_signature_header(" t=5 , v1=a ,v1=b,x=y") == (5, ["a", "b"])


def test_delivery_ids_are_64_lowercase_hex():
    assert valid_delivery_id("a" * 64)
    assert not valid_delivery_id("A" * 64)
    assert not valid_delivery_id("a" * 63)
    assert not valid_delivery_id(None)


def test_our_verifier_agrees_with_the_official_sdk():
    rng = random.Random(7)
    for _ in range(200):
        secret = f"whsec_{rng.randbytes(16).hex()}"
        body = rng.randbytes(rng.randint(0, 64))
        t = NOW + rng.randint(-400, 400)
        candidates = [
            header(t, secret, body=body),
            header(t, "whsec_other", secret, body=body),
            header(t, "whsec_other", body=body),
            header(t, secret, body=body + b"x"),
            header(t, secret, body=body).replace("v1=", "v1=0"),
        ]
        for value in candidates:
            ours = verify_signature(value, body, [secret], now=NOW)
            sdk = verify_webhook_signature(body, value, secret, now=NOW)
            assert ours == sdk, value
