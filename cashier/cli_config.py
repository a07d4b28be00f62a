"""`cashier-cli config get|set` and `cashier-cli ledger ...`: provisioning a counter by
script (counter id, the shared ledger's URL and password, the other settings) and
moving a counter's books into a shared ledger."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

from cashier.i18n import UserError, define, tr

define({
    "config.bad_value": ("“{key}” 的值无效：{value}（应为{kind}）", "Invalid value for '{key}': {value} (expected {kind})"),
    "config.kind.bool": ("on 或 off", "on or off"),
    "config.kind.int": ("整数", "a whole number"),
    "config.kind.json": ("JSON 对象", "a JSON object"),
    "config.pin": ("店长密码只能在收银窗口的“设置”里设置", "The manager PIN is set in the window's Settings only"),
    "config.saved": ("已保存：{key} = {value}", "Saved: {key} = {value}"),
    "config.password_saved": ("已把 {account} 的密码存进系统钥匙串", "Stored the password of {account} in the system keyring"),
    "config.password_empty": ("标准输入中没有读到密码", "No password was read from standard input"),
    "config.no_shared_ledger": ("没有配置共享账本（ledger_url 为空）：请用 --url 指定", "No shared ledger is configured (ledger_url is empty): give --url"),
    "config.where": ("账本：{where}（{backend}）", "Ledger: {where} ({backend})"),
})

_TRUE = {"on", "true", "yes", "1", "开"}
_FALSE = {"off", "false", "no", "0", "关"}
_HIDDEN = {"manager_pin"}


def _fields() -> dict[str, dataclasses.Field]:
    from cashier.settings import Settings

    return {f.name: f for f in dataclasses.fields(Settings) if f.name not in _HIDDEN}


def parse_value(key: str, text: str) -> Any:
    """The typed value of `text` for setting `key` (by the setting's default's type)."""
    from cashier.settings import Settings

    if key in _HIDDEN:
        raise UserError("config.pin")
    fields = _fields()
    if key not in fields:
        raise UserError("settings.unknown", name=key)
    default = getattr(Settings(), key)
    if isinstance(default, bool):
        word = text.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise UserError("config.bad_value", key=key, value=text, kind=tr("config.kind.bool"))
    if isinstance(default, int):
        try:
            return int(text.strip(), 10)
        except ValueError:
            raise UserError("config.bad_value", key=key, value=text, kind=tr("config.kind.int")) from None
    if isinstance(default, dict):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise UserError("config.bad_value", key=key, value=text, kind=tr("config.kind.json"))
        return value
    if default is None:  # an optional name (active profile...): empty clears it
        return text or None
    return text


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else str(value)


def config(args, out) -> int:
    from cashier.settings import SettingsStore

    store = SettingsStore()
    if args.config_command == "get":
        settings = store.load()
        if args.key is None:
            values = {name: getattr(settings, name) for name in _fields()}
            out.emit(values, "\n".join(f"{k} = {_show(v)}" for k, v in values.items()))
            return 0
        if args.key in _HIDDEN:
            out.emit({"key": args.key, "value": settings.has_pin}, _show(settings.has_pin))
            return 0
        if args.key not in _fields():
            raise UserError("settings.unknown", name=args.key)
        value = getattr(settings, args.key)
        out.emit({"key": args.key, "value": value}, _show(value))
        return 0
    value = parse_value(args.key, args.value)
    saved = store.update(**{args.key: value})
    shown = getattr(saved, args.key)
    out.emit({"key": args.key, "value": shown, "saved": True}, tr("config.saved", key=args.key, value=_show(shown)))
    return 0


def ledger(args, out) -> int:
    from cashier import secrets
    from cashier.ledger.location import describe, resolve_url
    from cashier.settings import check_ledger_url, ledger_url

    if args.ledger_command == "where":
        url = resolve_url(ledger_url())
        where, backend = describe(url)
        out.emit({"ledger": where, "backend": backend}, tr("config.where", where=where, backend=backend))
        return 0
    if args.ledger_command == "password":
        url = check_ledger_url(args.url) if args.url else ledger_url()
        if not url.startswith(("postgresql:", "postgres:")):
            raise UserError("config.no_shared_ledger")
        password = sys.stdin.readline().rstrip("\r\n")
        if not password.strip():
            raise UserError("config.password_empty")
        secrets.set_database_password(url, password)
        account = secrets.database_account(url)
        out.emit({"stored": account}, tr("config.password_saved", account=account))
        return 0
    # migrate
    from cashier.ledger.migrate import copy_ledger

    target = check_ledger_url(args.to)
    if not target.startswith(("postgresql:", "postgres:")):
        raise UserError("settings.bad_ledger_url", url=args.to)
    source = resolve_url(args.source if args.source else ledger_url())
    result = copy_ledger(source, target)
    out.emit(result.to_dict(), result.text())
    return 0
