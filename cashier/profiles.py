"""Merchant profiles: everything about a gateway account except its key (keyring).

Stored as JSON in the config dir, written atomically.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cashier import paths
from cashier.gateways import gateway_class
from cashier.gateways.base import ConfigError, Profile
from cashier.gateways.http import check_base_url
from cashier.i18n import define

define({
    "profile.exists": ("商户配置“{name}”已存在", "Profile '{name}' already exists"),
    "profile.not_found": ("没有名为“{name}”的商户配置", "No profile named '{name}'"),
    "profile.bad_name": ("配置名称不能为空，且不能超过 40 个字符", "A profile name must be 1 to 40 characters"),
    "profile.missing_field": ("{gateway} 需要填写：{field}", "{gateway} needs: {field}"),
    "profile.corrupt": ("商户配置文件损坏：{path}", "The profile file is damaged: {path}"),
})

_NAME_RE = re.compile(r"^.{1,40}$")


def validate(profile: Profile) -> Profile:
    cls = gateway_class(profile.gateway)
    if not _NAME_RE.match(profile.name.strip()) or profile.name != profile.name.strip():
        raise ConfigError("profile.bad_name")
    check_base_url(profile.base_url)
    for field in cls.profile_fields:
        if field in ("base_url", "merchant_id", "app_id", "notify_url") and not getattr(profile, field):
            raise ConfigError("profile.missing_field", gateway=profile.gateway, field=field)
    return profile


class ProfileStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.profiles_path()

    def _read(self) -> dict:
        if not self.path.exists():
            return {"profiles": [], "active": None}
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            raise ConfigError("profile.corrupt", path=str(self.path)) from None
        if not isinstance(data, dict) or not isinstance(data.get("profiles"), list):
            raise ConfigError("profile.corrupt", path=str(self.path))
        return data

    def _write(self, data: dict) -> None:
        paths.write_json_atomically(self.path, data)

    def list(self) -> list[Profile]:
        try:
            return [Profile.from_dict(p) for p in self._read()["profiles"]]
        except (KeyError, TypeError, AttributeError, ValueError):  # an entry that is not a profile
            raise ConfigError("profile.corrupt", path=str(self.path)) from None

    def get(self, name: str) -> Profile:
        for profile in self.list():
            if profile.name == name:
                return profile
        raise ConfigError("profile.not_found", name=name)

    def add(self, profile: Profile, *, replace: bool = False) -> Profile:
        validate(profile)
        data = self._read()
        others = [p for p in data["profiles"] if p["name"] != profile.name]
        if len(others) != len(data["profiles"]) and not replace:
            raise ConfigError("profile.exists", name=profile.name)
        data["profiles"] = others + [profile.to_dict()]
        if not data.get("active"):
            data["active"] = profile.name
        self._write(data)
        return profile

    def remember(self, name: str, found: dict[str, str]) -> Profile:
        """Keep what a probe found out about the site (e.g. epay's {"scan": "no"})."""
        profile = self.get(name)
        if not found or all(profile.extra.get(k) == v for k, v in found.items()):
            return profile
        updated = Profile.from_dict({**profile.to_dict(), "extra": {**profile.extra, **found}})
        return self.add(updated, replace=True)

    def remove(self, name: str) -> None:
        data = self._read()
        kept = [p for p in data["profiles"] if p["name"] != name]
        if len(kept) == len(data["profiles"]):
            raise ConfigError("profile.not_found", name=name)
        data["profiles"] = kept
        if data.get("active") == name:
            data["active"] = kept[0]["name"] if kept else None
        self._write(data)

    def active(self) -> Profile | None:
        data = self._read()
        name = data.get("active")
        for p in data["profiles"]:
            if p["name"] == name:
                return Profile.from_dict(p)
        return Profile.from_dict(data["profiles"][0]) if data["profiles"] else None

    def set_active(self, name: str) -> None:
        data = self._read()
        if not any(p["name"] == name for p in data["profiles"]):
            raise ConfigError("profile.not_found", name=name)
        data["active"] = name
        self._write(data)
