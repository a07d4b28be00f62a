"""Signing helpers shared by the gateways. MD5 because that is what the protocols use.

All comparison of signatures is constant-time (hmac.compare_digest).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Iterable, Mapping


def canonical(fields: Mapping[str, object], keys: Iterable[str] | None = None, *, skip: Iterable[str] = ("sign", "sign_type")) -> str:
    """Sort by ASCII key, drop empty values and the skipped keys, join k=v with '&'.

    `keys`, when given, restricts the string to those fields (LTZF signs only its
    required fields). Values are used as they are: no URL encoding.
    """
    skipped = set(skip)
    wanted = set(keys) if keys is not None else None
    parts = []
    for key in sorted(fields):
        if key in skipped or (wanted is not None and key not in wanted):
            continue
        value = fields[key]
        if value is None:
            continue
        text = str(value)
        if text == "":
            continue
        parts.append(f"{key}={text}")
    return "&".join(parts)


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def wx_v2_sign(fields: Mapping[str, object], key: str, keys: Iterable[str] | None = None) -> str:
    """WeChat Pay V2 style (LTZF, Weidoufu-like): canonical + '&key=KEY', MD5, uppercase."""
    return md5_hex(canonical(fields, keys) + "&key=" + key).upper()


# What PHP's trim() removes.
PHP_TRIM = " \t\n\r\0\x0b"


def epay_sign(fields: Mapping[str, object], key: str, *, blank_is_empty: bool = True) -> str:
    """epay V1: canonical + KEY appended bare, MD5, lowercase.

    Current 彩虹易支付 sites leave out every value that is empty once trimmed (their
    isEmpty() is `trim($v) === ''`); the value itself is signed untrimmed. Older ones
    only leave out "" (`blank_is_empty=False`)."""
    if blank_is_empty:
        fields = {k: v for k, v in fields.items() if v is not None and str(v).strip(PHP_TRIM) != ""}
    return md5_hex(canonical(fields) + key)


def signature_equal(expected: str, received: object, *, case_insensitive: bool = False) -> bool:
    if not isinstance(received, str) or not received:
        return False
    a, b = expected, received
    if case_insensitive:
        a, b = a.lower(), b.lower()
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
