"""The counter service: what the window may ask of the engine and the books, in one
Qt-free object. The UI holds a `Counter` and never reaches into `engine.ledger` or
`engine.gateway()`; the CLI and tests can drive the same calls.

Every method may block (network, disk): the window calls them on a worker thread,
except the quick, local ones marked "local" (no network, no disk).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from cashier.i18n import define

define({
    "cap.merged_qr": ("一码付", "any-wallet QR"),
    "cap.wechat_qr": ("微信收款码", "WeChat QR"),
    "cap.alipay_qr": ("支付宝收款码", "Alipay QR"),
    "cap.qq_qr": ("QQ钱包收款码", "QQ Wallet QR"),
    "cap.micropay": ("付款码", "payment codes"),
    "cap.query": ("查单", "status check"),
    "cap.close": ("关单", "closing orders"),
    "cap.reverse": ("撤销", "reversing"),
    "cap.refund": ("退款", "refunds"),
    "cap.refund_query": ("退款查询", "refund status"),
    "cap.notify_verify": ("到账通知", "payment notices"),
    "cap.check_connection": ("测试连接", "connection test"),
    "cap.list_orders": ("订单列表（对账）", "order lists (reconciliation)"),
})


def capability_text(value: str) -> str:
    """A capability in words a clerk knows (一码付, 付款码, 退款查询), never its id."""
    from cashier.i18n import tr

    text = tr("cap." + value)
    return text if text != "cap." + value else value.replace("_", " ")


def profile_title(name: str | None) -> str:
    """A profile's name as the screen shows it: a shop's own name as typed; a demo
    profile's (made by the app, stored in Chinese: a ledger key) in the UI's language."""
    from cashier.i18n import EN, language

    if not name or not name.startswith("演示·") or language() != EN:
        return name or ""
    from cashier.sim.demo import DEMO_TITLES, DEMO_TITLES_EN

    for gateway, title in DEMO_TITLES.items():
        if title == name:
            return DEMO_TITLES_EN[gateway]
    return name


@dataclass(frozen=True)
class ProfileInfo:
    """What the checkout needs to know about a usable merchant profile."""

    name: str
    gateway: str
    qr_methods: tuple[str, ...]  # "merged", "wechat", "alipay", "qq"
    micropay: bool
    reverse: bool
    refund: bool
    refund_query: bool
    min_amount: Decimal
    max_amount: Decimal
    capabilities: tuple[str, ...]


class Counter:
    """One shop counter's view of the engine. `ctx` is a `cashier.services.Context`."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.engine = ctx.engine
        self._infos: dict[str, ProfileInfo] = {}

    # -- profiles (local) ----------------------------------------------------------
    @property
    def demo(self) -> bool:
        return bool(self.ctx.demo)

    def profiles(self) -> list[str]:
        return self.engine.profiles()

    def problems(self) -> dict[str, str]:
        return dict(getattr(self.ctx, "problems", None) or {})

    def info(self, profile: str) -> ProfileInfo:
        info = self._infos.get(profile)
        if info is None:
            from cashier.gateways.base import Capability

            gw = self.engine.gateway(profile)
            info = ProfileInfo(
                name=profile, gateway=gw.name if hasattr(gw, "name") else "",
                qr_methods=tuple(m.value for m in gw.qr_methods()),
                micropay=gw.supports(Capability.MICROPAY), reverse=gw.supports(Capability.REVERSE),
                refund=gw.supports(Capability.REFUND), refund_query=gw.supports(Capability.REFUND_QUERY),
                min_amount=gw.limits.min_amount, max_amount=gw.limits.max_amount,
                capabilities=tuple(sorted(c.value for c in gw.capabilities)))
            self._infos[profile] = info
        return info

    def micropay_profiles(self) -> list[str]:
        """The usable profiles that take payment codes (付款码)."""
        return [name for name in self.profiles() if self.info(name).micropay]

    def micropay_route(self, chosen: str | None) -> str | None:
        """Where a payment code goes when the active profile takes none: `chosen`
        (the setting) if it can, else in demo mode one that can also reverse."""
        able = self.micropay_profiles()
        if chosen in able:
            return chosen
        if self.demo and able:
            return next((n for n in able if self.info(n).reverse), able[0])
        return None

    def parse_amount(self, text: str, profile: str | None) -> Decimal:
        """The typed amount within the profile's limits (local); AmountError says why not."""
        from cashier.money import parse_amount

        if profile:
            info = self.info(profile)
            return parse_amount(text, minimum=info.min_amount, maximum=info.max_amount)
        return parse_amount(text)

    def now(self) -> float:
        return self.engine.now()

    def subscribe(self, callback: Callable) -> None:
        self.engine.subscribe(callback)

    # -- sales ---------------------------------------------------------------------
    def start_qr(self, profile: str, amount: Decimal, method: str, sale_id: str):
        from cashier.gateways.base import Method

        return self.engine.start_qr(profile, amount, Method(method), sale_id=sale_id)

    def start_micropay(self, profile: str, amount: Decimal, code: str, sale_id: str):
        return self.engine.start_micropay(profile, amount, code, sale_id=sale_id)

    def stop_waiting(self, out_trade_no: str, actor: str = "clerk"):
        return self.engine.stop_waiting(out_trade_no, actor=actor)

    def check(self, out_trade_no: str, actor: str = "clerk"):
        return self.engine.check(out_trade_no, actor=actor)

    def check_soon(self, out_trade_no: str, actor: str = "clerk"):
        """查单 from the checkout: asked now, answered by a query of a moment ago, or
        queued for the gateway's next query slot (a CheckAnswer); never "too soon"."""
        return self.engine.check_soon(out_trade_no, actor=actor)

    def last_query(self, out_trade_no: str):
        """When the gateway was last asked about the order here, and if it answered
        (local)."""
        return self.engine.last_query(out_trade_no)

    def mark_checked(self, out_trade_no: str, actor: str, note: str = ""):
        return self.engine.mark_checked(out_trade_no, actor=actor, note=note)

    def needs_attention(self):
        return self.engine.needs_attention()

    def attention_count(self) -> int:
        return len(self.engine.needs_attention())

    def qr_image(self, order) -> bytes:
        """The QR image of an order whose gateway gave only an image (its500's
        personal code): through the gateway's HTTP layer (deadline, size cap, the
        picture address forms the gateway uses). Blocking: call it off the GUI thread."""
        return self.engine.qr_image(order.out_trade_no)

    def order(self, out_trade_no: str):
        return self.engine.ledger.get_order(out_trade_no)

    # -- history and refunds -------------------------------------------------------
    def search_history(self, query=None, *, limit: int = 50, before=None):
        return self.engine.search_history(query, limit=limit, before=before)

    def history_entry(self, out_trade_no: str):
        return self.engine.history_entry(out_trade_no)

    def refunds_for(self, out_trade_no: str):
        return self.engine.refunds_for(out_trade_no)

    def can_refund(self, profile: str) -> bool:
        return profile in self.profiles() and self.info(profile).refund

    def refund(self, out_trade_no: str, amount: Decimal, reason: str, actor: str):
        return self.engine.refund(out_trade_no, amount, reason, actor=actor)

    def check_refund(self, out_refund_no: str, actor: str = "clerk"):
        return self.engine.check_refund(out_refund_no, actor=actor)

    @property
    def counter_id(self) -> str:
        """This counter's id (on shared books, its own sales are told apart by it)."""
        return self.engine.settings.counter_id

    def daily_report(self, day: datetime.date, counter_id: str | None = None):
        """The day's report for the whole shop, or for one counter."""
        return self.engine.ledger.daily_report(day, counter_id=counter_id)

    def in_flight(self):
        """Orders and refunds with a request out or a customer paying (see `in_flight`)."""
        return in_flight(self.engine.ledger)

    # -- peripherals (printer, drawer, voice) ----------------------------------------
    def start_peripherals(self, settings, on_message: Callable[[str], None] | None = None):
        """Receipts and voice on every order that becomes paid (cashier.peripherals)."""
        from cashier.peripherals import Peripherals

        if getattr(self, "peripherals", None) is None:
            self.peripherals = Peripherals(settings, lookup_order=self.order, on_message=on_message)
            self.engine.subscribe(self.peripherals.on_engine_event)
        else:
            self.peripherals.settings = settings
        return self.peripherals

    def close_peripherals(self) -> None:
        devices = getattr(self, "peripherals", None)
        if devices is not None:
            devices.close()

    def reprint(self, out_trade_no: str) -> None:
        """Queue the receipt of a paid order again (补打)."""
        self.peripherals.reprint(out_trade_no)

    def print_test(self) -> None:
        self.peripherals.print_test()

    def open_drawer(self) -> None:
        self.peripherals.open_drawer(force=True)

    def voice_test(self) -> None:
        from cashier.i18n import tr

        self.peripherals.say(tr("voice.test"))

    # -- settings ------------------------------------------------------------------
    def check_connection(self, profile) -> str:
        """Test a profile (a loaded one by name, or a Profile not yet loaded)."""
        name = getattr(profile, "name", profile)
        if name in self.profiles():
            return doctor(self.engine.gateway(name), name)[0]
        return check_profile_connection(profile)

    # -- demo ----------------------------------------------------------------------
    def demo_customer_pays(self, order):
        """Demo mode: the simulated customer pays the shown QR; then check at once."""
        from cashier.i18n import UserError

        self.ctx.sim_client.pay_order(order)
        try:  # the engine would see it at its next poll; ask now (or at the next slot) for a snappy demo
            return self.engine.check_soon(order.out_trade_no, actor="demo").order
        except UserError:
            return None

    def demo_next_code(self, kind: str, seconds: float, code: str) -> None:
        self.ctx.sim_client.micropay_behaviour(kind, seconds=seconds, auth_code=code,
                                               reason="余额不足" if kind == "decline" else "")


def in_flight(ledger) -> tuple[list, list]:
    """(orders, refunds) that must not be cut off by closing or replacing the program:
    a request out or a customer paying. Expired and cancelled QRs (only watched for a
    late payment) and needs-check ones (waiting for a person) are not in flight."""
    from cashier.ledger import states as S

    orders = S.UNRESOLVED_ORDER_STATES - {S.EXPIRED, S.CANCELLED, S.NEEDS_CHECK}
    refunds = S.UNRESOLVED_REFUND_STATES - {S.REFUND_NEEDS_CHECK}
    return ([o for o in ledger.unresolved_orders() if o.state in orders],
            [r for r in ledger.unresolved_refunds() if r.state in refunds])


def check_profile_connection(profile) -> str:
    """Test a profile that the engine has not loaded (its key from the keyring)."""
    from cashier import secrets
    from cashier.gateways import build_gateway

    gw = build_gateway(profile, secrets.get_secret(profile.name))
    try:
        return doctor(gw, profile.name)[0]
    finally:
        gw.close_transport()


def doctor(gw, name: str) -> tuple[str, dict[str, str]]:
    """Reach the gateway, check the credentials, and find out, charging nothing, what
    the merchant's site can do (epay: does it take payment codes); what is found is
    remembered on the profile `name`. Returns (description, found)."""
    from cashier.gateways.base import ConfigError
    from cashier.profiles import ProfileStore

    detail = gw.check_connection()
    found = gw.probe()
    if found:
        try:
            ProfileStore().remember(name, found)
        except ConfigError:  # a profile that is not kept in the store (the demo's)
            pass
    return detail, found
