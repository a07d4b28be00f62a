"""User-facing text in Chinese (default) and English, without Qt.

Every layer raises errors that carry a message key and parameters; the text is
rendered in the user's language here, so the CLI and the GUI say the same thing.
Modules declare their own messages with `define`, next to the code that uses them.
"""

from __future__ import annotations

import locale
import string
import os
import threading

ZH = "zh_CN"
EN = "en"
LANGUAGES = (ZH, EN)

_catalog: dict[str, tuple[str, str]] = {}
_lock = threading.Lock()
_language: str | None = None


def define(messages: dict[str, tuple[str, str]]) -> None:
    """Register messages as key -> (Chinese, English). Keys must be unique."""
    with _lock:
        for key, pair in messages.items():
            if key in _catalog and _catalog[key] != pair:
                raise ValueError(f"message {key!r} defined twice with different text")
            _catalog[key] = pair


def system_language() -> str:
    """The language the system asks for: English only when the locale is English."""
    candidates = [os.environ.get(v) for v in ("LC_ALL", "LC_MESSAGES", "LANG")]
    try:
        # getlocale() reports the C locale ("C.UTF-8", what Python itself picks when
        # nothing is set) as en_US: ask for the raw name first, so no locale stays Chinese.
        if not _neutral(locale.setlocale(locale.LC_CTYPE)):
            candidates.append(locale.getlocale()[0])
    except (ValueError, locale.Error):
        pass
    for value in candidates:
        if _neutral(value):
            continue
        return EN if value.lower().startswith("en") else ZH
    return ZH


def _neutral(value: str | None) -> bool:
    """No language asked for: unset, or the C/POSIX locale."""
    return not value or value in ("C", "POSIX") or value.startswith("C.")


def normalise(lang: str | None) -> str:
    if not lang or lang == "auto":
        return system_language()
    return EN if lang.lower().startswith("en") else ZH


def set_language(lang: str | None) -> str:
    global _language
    _language = normalise(lang)
    return _language


def language() -> str:
    if _language is None:
        return set_language(os.environ.get("CASHIER_LANG"))
    return _language


def tr(key: str, /, lang: str | None = None, **params: object) -> str:
    pair = _catalog.get(key)
    if pair is None:
        return key
    use = normalise(lang) if lang is not None else language()
    text = pair[1] if use == EN else pair[0]
    try:
        if ":plural:" in text:
            return _PLURALS.vformat(text, (), params)
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return text


class _PluralFormatter(string.Formatter):
    """`{n:plural:order,orders}` -> "1 order", "2 orders" (English messages)."""

    def format_field(self, value, spec: str) -> str:
        if spec.startswith("plural:"):
            one, _, many = spec[len("plural:"):].partition(",")
            return f"{value} {one if value == 1 else (many or one + 's')}"
        return super().format_field(value, spec)


_PLURALS = _PluralFormatter()


class UserError(Exception):
    """An error whose message is meant for the clerk, in the clerk's language."""

    key = "error.generic"

    def __init__(self, key: str | None = None, /, **params: object) -> None:
        self.key = key or self.key
        self.params = params
        super().__init__(self.message(EN))

    def message(self, lang: str | None = None) -> str:
        return tr(self.key, lang=lang, **self.params)

    def __str__(self) -> str:
        return self.message()


define({
    "error.generic": ("操作失败", "Operation failed"),
})
