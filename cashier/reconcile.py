"""Reconciliation (对账), without Qt: a day's orders of one merchant profile are asked
about again at the gateway and compared with the ledger; where the gateway can list
its orders (epay `act=orders`), orders it has and the ledger lacks are found too.

Every query goes through the engine (`Engine.reconcile_query` / `reconcile_list`), so
the gateway's rate limits are the scheduler's: a run waits for its slot rather than
hammering the site. The run and each difference are kept in the ledger (recon_runs,
recon_differences) and shown in the day report. A person with the manager PIN resolves
each difference: record the payment, flag it for refund, or mark it checked; every
resolution is an event in the ledger's log.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from cashier.gateways.base import Capability, GatewayError, ListedOrder, PayStatus, Wallet
from cashier.i18n import UserError, define, tr
from cashier.engine.reconciling import CORRECTION_SUFFIX
from cashier.ledger import books as B
from cashier.ledger import states as S
from cashier.money import format_yuan, parse_wire_amount

log = logging.getLogger("cashier.reconcile")

define({
    "recon.kind.paid_there_not_here": ("网关已收款，本店未记收款", "Paid at the gateway, not here"),
    "recon.kind.paid_here_not_there": ("本店记为已收，网关未收款", "Paid here, not at the gateway"),
    "recon.kind.amount_differs": ("金额不符", "Amount differs"),
    "recon.kind.refund_differs": ("退款不符", "Refund differs"),
    "recon.kind.unknown_to_us": ("本店没有这笔订单", "Unknown to us"),
    "recon.reason.recorded": ("对账补记", "Recorded by reconciliation"),
    "recon.cannot_record": ("这类差异不能“补记收款”，请选择“标记退款”或“已核对”",
                            "This kind of difference cannot be recorded as a payment: flag it for refund or mark it checked"),
    "recon.note_needed": ("请写一句备注", "Write a short note"),
    "recon.no_difference": ("订单 {out_trade_no} 没有待处理的对账差异", "No open reconciliation difference for {out_trade_no}"),
    "recon.progress": ("对账中：{done}/{total}", "Reconciling: {done}/{total}"),
    "recon.listing": ("正在读取网关订单列表：第 {page} 页", "Reading the gateway's order list: page {page}"),
})

KIND_TEXT_KEYS = {kind: f"recon.kind.{kind}" for kind in B.DIFFERENCE_KINDS}
MAX_LIST_PAGES = 400  # 20,000 orders at 50 a page: a shop's day many times over
QUERY_ATTEMPTS = 3


def kind_text(kind: str) -> str:
    return tr(KIND_TEXT_KEYS.get(kind, kind))


@dataclass(frozen=True)
class Progress:
    phase: str  # "query" or "list"
    done: int
    total: int  # for "list": pages read so far

    def text(self) -> str:
        if self.phase == "list":
            return tr("recon.listing", page=self.done)
        return tr("recon.progress", done=self.done, total=self.total)


@dataclass
class Result:
    run: B.ReconRun
    orders_checked: int
    differences: list[B.Difference] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)  # the gateway could not be asked

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run.run_id, "profile": self.run.profile, "date": self.run.day,
                "orders_checked": self.orders_checked, "orders_planned": self.run.orders_planned,
                "not_checked": self.not_checked, "differences": [d.to_dict() for d in self.differences]}


def day_bounds(day: datetime.date) -> tuple[float, float]:
    from cashier.ledger.db import _day_bounds

    return _day_bounds(day, None)


def _ours(order, refunded: Decimal) -> dict[str, Any]:
    return {"state": order.state, "amount": format_yuan(order.amount),
            "paid_amount": None if order.paid_amount is None else format_yuan(order.paid_amount),
            "refunded": format_yuan(refunded)}


def _theirs(status: PayStatus, amount: Decimal | None, trade_no: str | None, paid_at, wallet) -> dict[str, Any]:
    return {"status": status.value, "amount": None if amount is None else format_yuan(amount),
            "gateway_trade_no": trade_no, "paid_at": paid_at.timestamp() if paid_at else None,
            "wallet": getattr(wallet, "value", wallet)}


def classify(order, refunded: Decimal, status: PayStatus, paid_amount: Decimal | None) -> str | None:
    """The difference between our order and the gateway's answer, or None."""
    if status == PayStatus.UNKNOWN:
        return None  # an answer we cannot read is not a finding
    ours_paid = order.state in (S.PAID, S.NEEDS_CHECK) and order.paid_amount is not None
    theirs_paid = status in (PayStatus.PAID, PayStatus.REFUNDED)
    if theirs_paid and not ours_paid:
        return B.PAID_THERE_NOT_HERE
    if ours_paid and not theirs_paid:
        return B.PAID_HERE_NOT_THERE
    if not ours_paid:
        return None
    if paid_amount is not None and paid_amount != order.paid_amount:
        return B.AMOUNT_DIFFERS
    if (status == PayStatus.REFUNDED) != (refunded > 0):
        return B.REFUND_DIFFERS
    return None


class Reconciler:
    """One reconciliation of a day and a profile. `sleep` waits for a rate-limit slot
    (tests pass one that moves their fake clock); `stop` ends a run early."""

    def __init__(self, engine, *, sleep: Callable[[float], None] = time.sleep,
                 on_progress: Callable[[Progress], None] | None = None, stop: threading.Event | None = None) -> None:
        self.engine = engine
        self.ledger = engine.ledger
        self._sleep = sleep
        self._on_progress = on_progress
        self._stop = stop or threading.Event()

    def plan(self, profile: str, day: datetime.date) -> list[tuple[Any, Decimal]]:
        """(order, refunded) for every order of `profile` created on `day` (local). A
        correction row ("<number>-R", money recorded for a closed order) is not asked
        about itself: it stands in for its original."""
        start, end = day_bounds(day)
        rows = self.ledger.orders_of_profile_between(profile, start, end)
        corrections = {o.out_trade_no[:-len(CORRECTION_SUFFIX)]: (o, r) for o, r in rows
                       if o.out_trade_no.endswith(CORRECTION_SUFFIX)}
        planned = []
        for order, refunded in rows:
            if order.out_trade_no.endswith(CORRECTION_SUFFIX) and order.out_trade_no[:-len(CORRECTION_SUFFIX)] in corrections:
                continue
            fix = corrections.get(order.out_trade_no)
            if fix is not None:
                order = dataclasses.replace(order, state=fix[0].state, paid_amount=fix[0].paid_amount)
                refunded = fix[1]
            planned.append((order, refunded))
        return planned

    def _progress(self, progress: Progress) -> None:
        if self._on_progress is not None:
            try:
                self._on_progress(progress)
            except Exception:
                log.exception("reconciliation progress listener failed")

    def _patiently(self, call: Callable[[], Any]) -> Any:
        """Call until it answers (a float is "wait this long for the slot")."""
        errors = 0
        while not self._stop.is_set():
            try:
                result = call()
            except GatewayError:
                errors += 1
                if errors >= QUERY_ATTEMPTS:
                    raise
                self._sleep(1.0)
                continue
            if isinstance(result, float):
                self._sleep(result)
                continue
            return result
        return None

    def run(self, profile: str, day: datetime.date, *, actor: str = "manager") -> Result:
        gw = self.engine.gateway(profile)
        planned = self.plan(profile, day)
        run = self.ledger.start_recon_run(profile=profile, day=day.isoformat(), actor=actor, planned=len(planned))
        result = Result(run=run, orders_checked=0)
        known: set[str] = set()
        for index, (order, refunded) in enumerate(planned):
            if self._stop.is_set():
                break
            known.add(order.out_trade_no)
            try:
                state = self._patiently(lambda o=order: self.engine.reconcile_query(o))
            except GatewayError as exc:
                log.warning("reconciliation could not ask about %s: %s", order.out_trade_no, exc)
                result.not_checked.append(order.out_trade_no)
                continue
            if state is None:
                break
            result.orders_checked += 1
            kind = classify(order, refunded, state.status, state.paid_amount)
            if kind is not None:
                result.differences.append(self.ledger.add_difference(
                    run.run_id, order.out_trade_no, kind, _ours(order, refunded),
                    _theirs(state.status, state.paid_amount, state.gateway_trade_no, state.paid_at, state.wallet)))
            if (index + 1) % 25 == 0 or index + 1 == len(planned):
                self.ledger.recon_progress(run.run_id, checked=result.orders_checked)
            self._progress(Progress("query", index + 1, len(planned)))
        pages = 0
        if gw.supports(Capability.LIST_ORDERS) and not self._stop.is_set():
            start, end = day_bounds(day)
            pages = self._find_unknown(profile, start, end, known, run, result)
        self.ledger.recon_progress(run.run_id, checked=result.orders_checked, listed=pages)
        result.run = self.ledger.finish_recon_run(run.run_id, state="stopped" if self._stop.is_set() else "done")
        return result

    def _find_unknown(self, profile: str, start: float, end: float, known: set[str], run: B.ReconRun,
                      result: Result) -> int:
        """Page the gateway's list (newest first) until it reaches orders older than the
        day; every order of the day the ledger has never seen is "unknown to us"."""
        page = 0
        while page < MAX_LIST_PAGES and not self._stop.is_set():
            page += 1
            try:
                listed = self._patiently(lambda p=page: self.engine.reconcile_list(profile, p, 50))
            except GatewayError as exc:
                log.warning("reconciliation could not list page %d: %s", page, exc)
                break
            self._progress(Progress("list", page, page))
            if not listed:
                break
            older = 0
            for item in listed:
                stamp = (item.created_at or item.paid_at)
                ts = stamp.timestamp() if stamp else None
                if ts is not None and ts < start:
                    older += 1
                    continue
                if ts is not None and ts >= end:
                    continue
                if item.out_trade_no in known or item.status not in (PayStatus.PAID, PayStatus.REFUNDED):
                    continue
                if self.ledger.get_order(item.out_trade_no) is not None:
                    continue  # ours, made on another day or under another profile's name
                result.differences.append(self.ledger.add_difference(
                    run.run_id, item.out_trade_no, B.UNKNOWN_TO_US, {},
                    _theirs(item.status, item.amount, item.gateway_trade_no, item.paid_at, item.wallet)))
            if older == len(listed) or len(listed) < 50:
                break
        return page


def resolve(engine, books, out_trade_no: str, action: str, note: str, *, pin: str | None) -> B.Difference:
    """A manager settles the newest open difference of this order. `books` checks the
    PIN (cashier.books.Books). record: the gateway's payment/refund enters the ledger;
    refund: flagged for a refund through the normal refund flow; checked: a note."""
    ledger = engine.ledger
    if action not in B.RESOLUTIONS:
        raise ValueError(action)
    if not (note or "").strip():
        raise UserError("recon.note_needed")
    diff = ledger.open_difference(out_trade_no)
    if diff is None:
        raise UserError("recon.no_difference", out_trade_no=out_trade_no)
    actor = books.verify_manager(pin, action=f"reconcile_{action}")
    detail: dict[str, Any] = {"run_id": diff.run_id, "kind": diff.kind, "note": note}
    if action == "record":
        theirs = diff.gateway
        amount = parse_wire_amount(theirs["amount"]) if theirs.get("amount") is not None else None
        if amount is not None and amount <= 0:
            raise UserError("recon.cannot_record")  # a payment of 0.00 is not ours to book as our amount
        if diff.kind in (B.PAID_THERE_NOT_HERE, B.AMOUNT_DIFFERS):
            order = ledger.get_order(out_trade_no)
            paid_amount = amount if amount is not None else order.amount_to_pay
            engine.record_reconciled_payment(out_trade_no, paid_amount=paid_amount, actor=actor,
                                             note=note, paid_at=theirs.get("paid_at"),
                                             gateway_trade_no=theirs.get("gateway_trade_no"), detail=detail)
        elif diff.kind == B.UNKNOWN_TO_US:
            listed = ListedOrder(out_trade_no=out_trade_no, gateway_trade_no=theirs.get("gateway_trade_no"),
                                 amount=amount, status=PayStatus(theirs["status"]),
                                 paid_at=(datetime.datetime.fromtimestamp(theirs["paid_at"], tz=datetime.timezone.utc)
                                          if theirs.get("paid_at") else None),
                                 wallet=Wallet(theirs.get("wallet") or "unknown"))
            run = next(r for r in ledger.recon_runs_by_id([diff.run_id]))
            engine.adopt_gateway_order(run.profile, listed, actor=actor, note=note, detail=detail)
        elif diff.kind == B.REFUND_DIFFERS and diff.gateway.get("status") == PayStatus.REFUNDED.value:
            refundable = ledger.refundable(out_trade_no)
            if refundable <= 0:
                raise UserError("recon.cannot_record")
            # The list/query answer gives no refunded sum: what is left is recorded as refunded.
            engine.record_reconciled_refund(out_trade_no, refundable, actor=actor, note=note, detail=detail)
        else:
            raise UserError("recon.cannot_record")
    return ledger.resolve_difference(diff.run_id, out_trade_no, resolution=action, actor=actor, note=note,
                                     detail=detail)
