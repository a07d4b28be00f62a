"""The five gateways behind one interface (see `base`). Ask `gateway_class(name)` for
what a gateway can do; `build_gateway(profile, secret)` for a working client."""

from __future__ import annotations

import importlib

from cashier.gateways.base import ConfigError, Gateway, Profile
from cashier.i18n import define

GATEWAYS: dict[str, str] = {
    "ltzf": "cashier.gateways.ltzf:LtzfGateway",
    "epay": "cashier.gateways.epay:EpayGateway",
    "fengniao": "cashier.gateways.fengniao:FengniaoGateway",
    "weidoufu": "cashier.gateways.weidoufu:WeidoufuGateway",
    "its500": "cashier.gateways.its500:Its500Gateway",
}

define({
    "gw.unknown_gateway": ("未知的支付网关：{name}（可选：{choices}）", "Unknown gateway: {name} (choose from {choices})"),
})


def gateway_names() -> tuple[str, ...]:
    return tuple(GATEWAYS)


def gateway_class(name: str) -> type[Gateway]:
    target = GATEWAYS.get(name)
    if target is None:
        raise ConfigError("gw.unknown_gateway", name=name, choices=", ".join(GATEWAYS))
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def build_gateway(profile: Profile, secret: str, **kwargs) -> Gateway:
    return gateway_class(profile.gateway)(profile, secret, **kwargs)
