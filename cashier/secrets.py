"""The one place that touches the OS keyring (Windows Credential Locker, macOS
Keychain, Secret Service). Merchant keys live nowhere else: not in a file, the
database or a log.

keyring's own configuration is respected (PYTHON_KEYRING_BACKEND, keyringrc.cfg):
no backend is forced here. With no usable keyring we say so and store nothing.
"""

from __future__ import annotations

import os

from cashier import redaction
from cashier.i18n import UserError, define

SERVICE = "cashier"

define({
    "keyring.unavailable": (
        "没有可用的系统钥匙串（{reason}），密钥未保存。Windows 使用凭据管理器，macOS 使用钥匙串，Linux 需要 Secret Service（如 GNOME Keyring）。",
        "No usable system keyring ({reason}); the key was not stored. Windows uses Credential Locker, macOS the Keychain, Linux needs a Secret Service (e.g. GNOME Keyring).",
    ),
    "keyring.unreadable": (
        "无法使用系统钥匙串（{reason}），读不到商户密钥。Windows 使用凭据管理器，macOS 使用钥匙串，Linux 需要 Secret Service（如 GNOME Keyring）。",
        "The system keyring cannot be used ({reason}); the merchant key cannot be read. Windows uses Credential Locker, macOS the Keychain, Linux needs a Secret Service (e.g. GNOME Keyring).",
    ),
    "keyring.missing": ("钥匙串里没有商户配置“{name}”的密钥，请在设置里重新输入", "The keyring holds no key for profile '{name}'; enter it again in settings"),
    "keyring.empty_secret": ("密钥不能为空", "The key cannot be empty"),
})


class KeyringUnavailable(UserError):
    key = "keyring.unavailable"


class SecretMissing(UserError):
    key = "keyring.missing"


def _keyring(key: str = "keyring.unavailable"):
    import keyring
    from keyring.backends import fail, null

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # e.g. PYTHON_KEYRING_BACKEND names a backend that is not installed
        configured = os.environ.get("PYTHON_KEYRING_BACKEND")
        reason = f"PYTHON_KEYRING_BACKEND={configured}: {type(exc).__name__}" if configured else type(exc).__name__
        raise KeyringUnavailable(key, reason=reason) from None
    # The null backend "stores" by forgetting: as unusable as none at all.
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        raise KeyringUnavailable(key, reason=type(backend).__module__)
    # A chainer with nothing behind it is a failure too.
    if getattr(backend, "backends", None) == []:
        raise KeyringUnavailable(key, reason="no backend")
    return keyring


def _username(profile_name: str) -> str:
    return f"profile:{profile_name}"


def set_secret(profile_name: str, secret: str) -> None:
    if not secret or not secret.strip():
        raise UserError("keyring.empty_secret")
    keyring = _keyring()
    from keyring.errors import KeyringError

    try:
        keyring.set_password(SERVICE, _username(profile_name), secret.strip())
    except KeyringError as exc:
        raise KeyringUnavailable(reason=type(exc).__name__) from None


def get_secret(profile_name: str) -> str:
    keyring = _keyring("keyring.unreadable")
    from keyring.errors import KeyringError

    try:
        value = keyring.get_password(SERVICE, _username(profile_name))
    except KeyringError as exc:
        raise KeyringUnavailable("keyring.unreadable", reason=type(exc).__name__) from None
    if not value:
        raise SecretMissing(name=profile_name)
    redaction.register(value)  # never in a log line from now on
    return value


def has_secret(profile_name: str) -> bool:
    try:
        get_secret(profile_name)
    except (SecretMissing, KeyringUnavailable):
        return False
    return True


def delete_secret(profile_name: str) -> None:
    keyring = _keyring()
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        keyring.delete_password(SERVICE, _username(profile_name))
    except PasswordDeleteError:
        pass
    except KeyringError as exc:
        raise KeyringUnavailable(reason=type(exc).__name__) from None


# ---------------------------------------------------------------- ledger database

def database_account(url: str) -> str:
    """The keyring entry of a shared ledger's password: user@host:port/database (the
    URL never holds the password itself, see settings.check_ledger_url)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    user = parts.username or ""
    port = parts.port or 5432
    return f"ledger:{user}@{parts.hostname}:{port}/{parts.path.strip('/')}"


def set_database_password(url: str, password: str) -> None:
    if not password or not password.strip():
        raise UserError("keyring.empty_secret")
    keyring = _keyring()
    from keyring.errors import KeyringError

    try:
        keyring.set_password(SERVICE, database_account(url), password.strip())
    except KeyringError as exc:
        raise KeyringUnavailable(reason=type(exc).__name__) from None


def get_database_password(url: str) -> str | None:
    """The stored password of the ledger at `url`, or None (none stored, or no usable
    keyring: the server may not need one, and it says so plainly if it does)."""
    try:
        keyring = _keyring("keyring.unreadable")
    except KeyringUnavailable:
        return None
    from keyring.errors import KeyringError

    try:
        value = keyring.get_password(SERVICE, database_account(url))
    except KeyringError:
        return None
    if value:
        redaction.register(value)
    return value or None


def delete_database_password(url: str) -> None:
    keyring = _keyring()
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        keyring.delete_password(SERVICE, database_account(url))
    except PasswordDeleteError:
        pass
    except KeyringError as exc:
        raise KeyringUnavailable(reason=type(exc).__name__) from None
