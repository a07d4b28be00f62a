"""Counter peripherals, without Qt: receipt printer, cash drawer and voice.

`Peripherals` listens to the engine: when an order becomes paid it queues the receipt
(when auto-print is on) and says the amount aloud (when voice is on). Nothing here
runs on the engine's thread longer than it takes to put a job in a queue, so a
printer that is off or a speech engine that hangs never slows a payment. The customer
display is a window, so it lives in `cashier.ui.customer_display`.
"""

from __future__ import annotations

import logging
import threading
import time
from decimal import Decimal
from typing import Callable

from cashier.i18n import UserError, define

log = logging.getLogger("cashier.peripherals")

define({
    "peripherals.drawer_off": ("钱箱已在设置中关闭", "The cash drawer is turned off in Settings"),
    "peripherals.drawer_opened": ("钱箱已打开", "Cash drawer opened"),
    "peripherals.no_order": ("没有这笔订单：{no}", "No such order: {no}"),
    "peripherals.not_paid": ("这笔订单没有付款，不能打印收款小票：{no}", "This order is not paid: no receipt for {no}"),
})

# A paid order is announced and printed only when its row was written this recently
# (our own clock, not the gateway's paid time, which may be skewed or long past for a
# payment found late): orders already paid before this process started are not
# announced again.
FRESH_SECONDS = 300.0


class Peripherals:
    """The counter's printer, drawer and voice, driven by engine events and by the clerk."""

    def __init__(self, settings, *, lookup_order: Callable[[str], object] | None = None,
                 lookup_refund: Callable[[str], object] | None = None,
                 on_message: Callable[[str], None] | None = None, spooler=None, announcer=None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._lookup_order = lookup_order
        self._lookup_refund = lookup_refund
        self._on_message = on_message
        self._clock = clock
        self._done: set[str] = set()
        self._guard = threading.Lock()
        self._spooler = spooler
        self._announcer = announcer

    # -------------------------------------------------------------- parts, made on first use
    @property
    def spooler(self):
        if self._spooler is None:
            from cashier.peripherals.spooler import Spooler

            self._spooler = Spooler.for_settings(lambda: self.settings, on_status=self._spooler_status).start()
        return self._spooler

    @property
    def announcer(self):
        if self._announcer is None:
            from cashier.peripherals.voice import Announcer

            self._announcer = Announcer(volume=self.settings.voice_volume / 100)
        return self._announcer

    def close(self) -> None:
        if self._spooler is not None:
            self._spooler.stop()
        if self._announcer is not None:
            self._announcer.close()

    def _tell(self, text: str) -> None:
        if self._on_message is not None:
            try:
                self._on_message(text)
            except Exception:
                log.exception("peripherals message listener failed")

    def _spooler_status(self, status) -> None:
        if status.error:
            from cashier.i18n import tr

            self._tell(tr("spooler.queued", count=status.waiting, reason=status.error))

    # -------------------------------------------------------------- engine events
    def on_engine_event(self, event) -> None:
        """Subscribe this to `Engine.subscribe`: acts once per order that becomes paid,
        and once per refund that succeeds (its slip, when auto-print is on)."""
        refund = getattr(event, "refund", None)
        if refund is not None:
            self._refund_event(refund)
            return
        order = getattr(event, "order", None)
        if order is None or order.state != "paid":
            return
        if order.updated_at is None or self._clock() - order.updated_at > FRESH_SECONDS:
            return
        with self._guard:
            if order.out_trade_no in self._done:
                return
            self._done.add(order.out_trade_no)
        self.order_paid(order)

    def _refund_event(self, refund) -> None:
        from cashier.ledger.states import REFUND_SUCCEEDED

        if refund.state != REFUND_SUCCEEDED or refund.updated_at is None \
                or self._clock() - refund.updated_at > FRESH_SECONDS:
            return
        with self._guard:
            if refund.out_refund_no in self._done:
                return
            self._done.add(refund.out_refund_no)
        s = self.settings
        if s.auto_print and s.printer_url:
            from cashier.peripherals.printer import refund_slip

            order = self._lookup_order(refund.out_trade_no) if self._lookup_order is not None else None
            self.spooler.submit(refund_slip(refund, order, shop=s.shop_name), copies=1)

    def order_paid(self, order) -> None:
        s = self.settings
        if s.voice_enabled:
            from cashier.peripherals.voice import announcement

            amount = order.paid_amount if order.paid_amount is not None else order.amount
            self.announcer.say(announcement(order.wallet, Decimal(amount), s.voice_words))
        if s.auto_print and s.printer_url:
            self.spooler.submit(self.sale_slip(order), copies=s.printer_copies)

    # -------------------------------------------------------------- the clerk's actions
    def sale_slip(self, order):
        from cashier.peripherals.printer import sale_slip

        return sale_slip(order, shop=self.settings.shop_name)

    def reprint(self, out_trade_no: str) -> None:
        """Queue a receipt again (补打), e.g. after the printer was fixed."""
        if self._lookup_order is None:
            raise UserError("peripherals.no_order", no=out_trade_no)
        order = self._lookup_order(out_trade_no)
        if order is None:
            raise UserError("peripherals.no_order", no=out_trade_no)
        if order.state != "paid":
            raise UserError("peripherals.not_paid", no=out_trade_no)
        self.spooler.submit(self.sale_slip(order), copies=1)

    def print_test(self) -> None:
        from cashier.peripherals.printer import test_slip

        s = self.settings
        self.spooler.submit(test_slip(shop=s.shop_name, paper_mm=s.printer_paper_mm, encoding=s.printer_encoding))

    def open_drawer(self, *, force: bool = False) -> None:
        """Kick the drawer (a cash sale, the shift count, or the clerk's key)."""
        from cashier.peripherals.printer import kick_drawer, parse_printer_url

        if not self.settings.cash_drawer and not force:
            raise UserError("peripherals.drawer_off")
        kick_drawer(parse_printer_url(self.settings.printer_url))

    def say(self, text: str) -> None:
        self.announcer.say(text)
