"""The order lifecycle over the ledger and the gateways: the engine keeps the locks,
the scheduler and the I/O; what to do next is decided by pure functions
(cashier.engine.decisions) and every state change follows the state machine's
table (cashier.ledger.states, docs/state-machine.md).

The rule that shapes everything: every state change is written to the ledger
*before* the request that depends on it leaves, and every answer is written as soon
as it arrives. So a crash at any moment leaves an order in a state that says what
to do next, and `recover()` (run at every start) does it.

Several processes may share one ledger (a window, `cashier-cli` runs, scripts).
Each row being worked on carries its owner and a lease (cashier.engine.ownership);
recovery takes over only rows whose owner is gone or whose lease ran out, and the
gateways' rate limits are slots in the ledger that every process respects.

Split: this module has the plumbing, the scheduler, recovery and notifications;
cashier.engine.orders the QR and micropay flows; cashier.engine.refunds refunds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Iterator, Mapping


from cashier.engine import decisions as D
from cashier.engine import messages  # noqa: F401  (defines the engine's texts)
from cashier.engine.clock import SystemClock
from cashier.engine.numbers import make_number
from cashier.engine.orders import OrderFlows
from cashier.engine.ownership import LeaseKeeper, owner_gone, process_identity
from cashier.engine.reconciling import ReconcileFlows
from cashier.engine.refunds import RefundFlows
from cashier.engine.types import EngineError, EngineEvent, EngineSettings, QueryNote
from cashier.gateways.base import (
    Gateway,
    Method,
    Notification,
    NotificationError,
    OrderRef,
    PaymentState,
    PayStatus,
    RateLimited,
    Wallet,
    check_notification_against,
)
from cashier.i18n import UserError
from cashier.ledger import Ledger, OrderRecord, RefundRecord, StateConflict
from cashier.ledger import states as S

log = logging.getLogger("cashier.engine")





LEDGER_RETRY_SECONDS = 5.0  # the books could not be read: the scheduler tries again after this


class Engine(OrderFlows, RefundFlows, ReconcileFlows):
    def __init__(
        self,
        ledger: Ledger,
        gateways: Mapping[str, Gateway],
        *,
        settings: EngineSettings | None = None,
        clock=None,
        owner: str | None = None,
    ) -> None:
        self.ledger = ledger
        self._gateways = dict(gateways)
        self.settings = settings or EngineSettings()
        self.clock = clock or SystemClock()
        self.owner = owner or process_identity()
        self._leases = LeaseKeeper(self, self.settings.lease_seconds, max(1.0, self.settings.lease_seconds / 3))
        self._listeners: list[Callable[[EngineEvent], None]] = []
        self._order_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._sale_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._beat_at: float | None = None  # time.monotonic() of the counter's last heartbeat
        # Who gets the merchant's query slot first (decisions.query_rank): the order on
        # the checkout (the last one this process started) and the clerk's queued 查单
        # (number -> when it was pressed). In memory: the clerk's wait ends with the process.
        self._clerk_lock = threading.Lock()
        self._on_screen: str | None = None
        self._asked: dict[str, float] = {}
        self._last_query: OrderedDict[str, QueryNote] = OrderedDict()
        self._told = threading.local()

    # ------------------------------------------------------------------ plumbing
    def subscribe(self, callback: Callable[[EngineEvent], None]) -> None:
        self._listeners.append(callback)

    def _emit(self, event: EngineEvent) -> None:
        self._told.record = event.order or event.refund  # the last record this thread told about
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:  # a listener's bug must not stop money work
                log.exception("engine listener failed")

    def profiles(self) -> list[str]:
        return list(self._gateways)

    def gateway(self, profile: str) -> Gateway:
        try:
            return self._gateways[profile]
        except KeyError:
            raise EngineError("engine.unknown_profile", profile=profile) from None

    def now(self) -> float:
        return self.clock.now()

    @contextmanager
    def _order_lock(self, key: str, *, blocking: bool = True) -> Iterator[bool]:
        """Between this process's threads (other processes: `_claimed`)."""
        with self._locks_guard:
            lock = self._order_locks.setdefault(key, threading.Lock())
        got = lock.acquire(blocking)
        try:
            yield got
        finally:
            if got:
                lock.release()

    def _lease_until(self) -> float:
        self._leases.ensure_running()
        return self.now() + self.settings.lease_seconds

    @contextmanager
    def _claimed(self, entity: str, number: str, *, wait: float = 0.0) -> Iterator[tuple | None]:
        """Between processes: own the row while working on it. Yields (record, the
        owner taken over or None), or None when another live process holds it (after
        waiting up to `wait` seconds for it to let go)."""
        deadline = time.monotonic() + wait
        while True:
            got = self.ledger.claim(entity, number, self.owner, self._lease_until(), gone=owner_gone)
            if got is not None or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        try:
            yield got
        finally:
            if got is not None:
                try:
                    self.ledger.release(entity, number, self.owner)
                except UserError as exc:  # the lease runs out by itself
                    log.warning("%s %s: release failed: %s", entity, number, exc.message("en"))

    def _write(self, order: OrderRecord, decision: D.Decision, *, actor: str = "engine",
               action: str | None = None, **extra) -> OrderRecord:
        """Write a decision about an order, in this process's name."""
        fields = {**decision.fields, **extra}
        if decision.quiet and not extra:
            return self.ledger.reschedule_order(order.out_trade_no, expect=order.state, owner=self.owner,
                                                next_check_at=fields.get("next_check_at"),
                                                check_count=fields.get("check_count"))
        name = decision.action or action or decision.event or ("gateway_error" if decision.detail else "reschedule")
        new = self.ledger.update_order(order.out_trade_no, event=decision.event, expect=order.state,
                                       owner=self.owner, actor=actor, action=name,
                                       detail=dict(decision.detail) if decision.detail else None, **fields)
        if decision.event is not None or decision.audit:
            self._emit(EngineEvent("order", order=new))
            self._wake.set()
        return new

    def _write_refund(self, refund: RefundRecord, decision: D.Decision, *, actor: str = "engine",
                      action: str | None = None) -> RefundRecord:
        name = decision.action or action or decision.event or ("gateway_error" if decision.detail else "reschedule")
        new = self.ledger.update_refund(refund.out_refund_no, event=decision.event, expect=refund.state,
                                        owner=self.owner, actor=actor, action=name,
                                        detail=dict(decision.detail) if decision.detail else None,
                                        **decision.fields)
        if decision.event is not None or decision.audit:
            self._emit(EngineEvent("refund", refund=new))
            self._wake.set()
        return new

    def _ref(self, order: OrderRecord) -> OrderRef:
        return OrderRef(
            out_trade_no=order.out_trade_no,
            amount=order.amount,
            method=Method(order.method),
            wallet=Wallet(order.wallet),
            gateway_trade_no=order.gateway_trade_no,
            created_at=datetime.fromtimestamp(order.created_at, tz=timezone.utc),
        )

    def _new_number(self, kind: str) -> str:
        self._counter_beat()  # a counter taking an order is alive: it follows that order itself
        self._leases.ensure_running()
        seq = self.ledger.next_sequence("refund" if kind == "R" else "order")
        return make_number(kind, self.settings.counter_id, self.now(), seq)

    def _get(self, out_trade_no: str) -> OrderRecord:
        order = self.ledger.get_order(out_trade_no)
        if order is None:
            raise EngineError("engine.unknown_order", out_trade_no=out_trade_no)
        return order

    def order(self, out_trade_no: str) -> OrderRecord:
        return self._get(out_trade_no)

    def qr_image(self, out_trade_no: str) -> bytes:
        """The picture to show for an order whose gateway gave no link, only an image
        (its500): fetched through the gateway's HTTP layer. Blocking: call it off the
        GUI thread."""
        order = self._get(out_trade_no)
        if not order.qr_image_url:
            raise EngineError("engine.unknown_order", out_trade_no=out_trade_no)
        return self.gateway(order.profile).fetch_qr_image(order.qr_image_url)

    # ------------------------------------------------------------------ history
    def search_history(self, query=None, *, limit: int = 50, before=None):
        """A page of the history (Ledger.search_orders): HistoryEntry list, newest first."""
        return self.ledger.search_orders(query, limit=limit, before=before)

    def history_entry(self, out_trade_no: str):
        """One order with its refunded sums (HistoryEntry), or None."""
        return self.ledger.history_entry(out_trade_no)

    def refunds_for(self, out_trade_no: str) -> list[RefundRecord]:
        return self.ledger.refunds_for(out_trade_no)

    # ------------------------------------------------------------------ rate slots
    def _slot_name(self, gw: Gateway, interface: str) -> str:
        """One slot per merchant and interface, whatever profile names it."""
        return f"{gw.name}/{gw.profile.merchant_id}/{interface}"

    def _reserve(self, gw: Gateway, interface: str, interval: float) -> float:
        return self.ledger.reserve_slot(self._slot_name(gw, interface), interval, self.now())

    def _call_limited(self, gw: Gateway, interface: str, interval: float, call, *, reserved: bool = False):
        """Make a rate-limited call: the result, or the seconds to wait. The next
        slot is counted from the end of the call, so the gateway never sees two calls
        closer than `interval`, however long the first one took."""
        if not reserved:
            wait = self._reserve(gw, interface, interval)
            if wait > 0:
                return wait
        try:
            return call()
        except RateLimited:
            return float(interval)
        finally:
            self.ledger.push_slot(self._slot_name(gw, interface), self.now() + interval)

    # ------------------------------------------------------------------ the clerk's wait
    def _note_query(self, out_trade_no: str, answered: bool) -> None:
        """This process asked the gateway about an order just now."""
        with self._clerk_lock:
            self._last_query[out_trade_no] = QueryNote(self.now(), answered)
            self._last_query.move_to_end(out_trade_no)
            while len(self._last_query) > 256:
                self._last_query.popitem(last=False)

    def last_query(self, out_trade_no: str) -> QueryNote | None:
        """When this process last asked the gateway about the order, and whether it
        answered (local: memory only)."""
        with self._clerk_lock:
            return self._last_query.get(out_trade_no)

    def _ask_soon(self, out_trade_no: str) -> None:
        with self._clerk_lock:
            now = self.now()
            self._asked = {n: t for n, t in self._asked.items() if now - t < 600}  # forgotten ones go
            self._asked[out_trade_no] = now

    def _asked_done(self, before: QueryNote | None, order: OrderRecord) -> None:
        """After a step: a queued 查单 whose query has now gone out (or whose order is
        settled) is done, and the screen hears of it even when nothing changed."""
        with self._clerk_lock:
            if order.out_trade_no not in self._asked:
                return
            after = self._last_query.get(order.out_trade_no)
            if after is before and order.state not in S.FINAL_ORDER_STATES:
                return
            del self._asked[order.out_trade_no]
        if getattr(self._told, "record", None) is not order:  # a change was told already
            self._emit(EngineEvent("order", order=order))

    # ------------------------------------------------------------------ counters
    def _counter_beat(self, *, force: bool = False) -> None:
        """Tell the books this counter is alive (several counters may share them): its
        lease is renewed every third of the lease time."""
        every = max(1.0, self.settings.lease_seconds / 3)
        if not force and self._beat_at is not None and time.monotonic() - self._beat_at < every:
            return
        other = self.ledger.heartbeat(self.settings.counter_id, self.owner, self.now() + self.settings.lease_seconds)
        self._beat_at = time.monotonic()
        if other is not None and other.partition("/")[0] != self.owner.partition("/")[0]:
            log.warning("counter id %s is also in use on %s: give each counter its own id",
                        self.settings.counter_id, other.partition("/")[0])

    def _followers(self) -> Callable[[str | None], bool]:
        """Which rows this counter follows: its own, and those of counters whose lease
        ran out (a counter that died or closed; they are taken over, one process at a
        time by the row claims)."""
        self._counter_beat()
        mine = self.settings.counter_id
        live = self.ledger.live_counters(self.now())
        return lambda counter: counter is None or counter == mine or counter not in live

    # ------------------------------------------------------------------ the scheduler
    def run_due(self) -> float | None:
        """Do every step that is due now (of this counter's orders and refunds, and of
        counters no longer alive). Returns seconds until the next one (None: idle)."""
        try:
            follows = self._followers()
            orders = self.ledger.due_orders(self.now())
            refunds = self.ledger.due_refunds(self.now())
        except UserError as exc:  # the books cannot be reached (a shared ledger offline): later
            log.warning("scheduler: %s", exc.message("en"))
            return LEDGER_RETRY_SECONDS
        with self._clerk_lock:
            on_screen, asked = self._on_screen, set(self._asked)
        orders.sort(key=lambda o: D.query_rank(o, on_screen=on_screen, asked=asked))
        for order in orders:
            if follows(order.counter_id):
                self._run_step("order", order.out_trade_no, self._step_order)
        for refund in refunds:
            if follows(refund.counter_id):
                self._run_step("refund", refund.out_refund_no, self._step_refund)
        try:
            return self._next_due()
        except UserError:
            return LEDGER_RETRY_SECONDS

    @contextmanager
    def _row(self, entity: str, number: str) -> Iterator[OrderRecord | RefundRecord | None]:
        """The row, fresh and not final, while no other thread of this process and no
        other live process works on it; None otherwise (someone else carries on)."""
        with self._order_lock(number if entity == "order" else "refund:" + number, blocking=False) as got:
            if not got:
                yield None
                return
            with self._claimed(entity, number) as claim:
                final = S.FINAL_ORDER_STATES if entity == "order" else S.FINAL_REFUND_STATES
                yield None if claim is None or claim[0].state in final else claim[0]

    def _run_step(self, entity: str, number: str, step) -> None:
        try:
            with self._row(entity, number) as fresh:
                if fresh is None or fresh.next_check_at is None or fresh.next_check_at > self.now():
                    return
                step(fresh)
        except StateConflict as exc:  # taken over meanwhile: its new owner carries on
            log.info("%s %s: %s", entity, number, exc.message("en"))
        except UserError as exc:  # ledger trouble (busy, full): try again later
            log.warning("%s %s: step failed: %s", entity, number, exc.message("en"))
        except Exception:
            log.exception("%s %s: step crashed", entity, number)

    def _next_due(self) -> float | None:
        now = self.now()

        def due(row) -> float:  # a row another live process holds is its business until its lease ends
            held = row.owner not in (None, self.owner) and (row.lease_until or 0) > now
            return max(row.next_check_at, row.lease_until) if held else row.next_check_at

        rows = [*self.ledger.unresolved_orders(), *self.ledger.unresolved_refunds()]
        times = [due(row) for row in rows if row.next_check_at is not None]
        if not times:
            return None
        return max(0.0, min(times) - self.now())

    def start(self) -> None:
        """Recover, then run the scheduler in a background thread."""
        if self._thread is not None:
            return
        self.recover()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="cashier-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
        self._leases.stop()
        if self._beat_at is not None:
            try:  # a clean close: another counter may follow our open orders at once
                self.ledger.leave(self.settings.counter_id, self.owner)
            except UserError as exc:
                log.warning("counter %s: leaving the books failed: %s", self.settings.counter_id, exc.message("en"))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.run_due()
            except Exception:
                log.exception("scheduler round failed")
                wait = 5.0
            self._wake.clear()
            self._wake.wait(timeout=min(wait if wait is not None else 1.0, 1.0))

    # ------------------------------------------------------------------ recovery
    def recover(self) -> list[str]:
        """At start-up: every unresolved order or refund that no live process is
        working on gets its next step now; one whose sender is gone (or whose lease
        ran out) is taken over: "sending" becomes "unknown", to be queried."""
        resumed = []
        now = self.now()
        follows = self._followers()
        rows = [("order", o.out_trade_no) for o in self.ledger.unresolved_orders() if follows(o.counter_id)]
        rows += [("refund", r.out_refund_no) for r in self.ledger.unresolved_refunds() if follows(r.counter_id)]
        for entity, number in rows:
            with self._row(entity, number) as fresh:
                if fresh is None:
                    continue
                if entity == "order":
                    event = S.TAKEN_OVER if fresh.state == S.SENDING else None
                    self._write(fresh, D.Decision(event, {"next_check_at": now}, audit=True), action="recovered")
                else:
                    event = S.R_TAKEN_OVER if fresh.state == S.REFUND_SENDING else None
                    self._write_refund(fresh, D.Decision(event, {"next_check_at": now}, audit=True),
                                       action="recovered")
                resumed.append(number)
        if resumed:
            log.info("recovery: resumed %d orders/refunds", len(resumed))
        return resumed

    # ------------------------------------------------------------------ notifications
    def apply_notification(self, profile: str, note: Notification) -> bool:
        """Apply a verified notification idempotently. Returns True when it was
        accepted (ours, amount right), False otherwise (the caller answers FAIL)."""
        order = self.ledger.get_order(note.out_trade_no)
        if order is None or order.profile != profile:
            log.warning("notification for an order that is not ours")
            return False
        try:
            check_notification_against(note, {order.out_trade_no: order.amount_to_pay})
        except NotificationError as exc:
            self.ledger.record_event("order", order.out_trade_no, "notification_rejected", "gateway",
                                     {"reason": exc.message("en")})
            return False
        self.ledger.record_event("order", order.out_trade_no, "notification", "gateway",
                                 {"kind": note.kind, "paid": note.paid})
        if note.kind == "refund":
            if note.out_refund_no:
                with self._claimed("refund", note.out_refund_no, wait=2.0) as claim:
                    if claim is not None and claim[0].state not in S.FINAL_REFUND_STATES:
                        self._write_refund(claim[0], D.reschedule(self.now()), action="notification")
            self._wake.set()
            return True
        if order.state == S.PAID or not note.paid:
            return True
        with self._order_lock(order.out_trade_no), self._claimed("order", order.out_trade_no, wait=2.0) as claim:
            if claim is None:  # another process is on it: it will learn the payment by its query
                self._wake.set()
                return True
            order = claim[0]
            if order.state in S.FINAL_ORDER_STATES:
                # Paid after it was settled: final states have no way out; a person
                # finds this in the audit log and the log file.
                log.warning("order %s: paid notification after it was settled %s", order.out_trade_no, order.state)
                self.ledger.record_event("order", order.out_trade_no, "late_payment_notified", "gateway",
                                         {"state": order.state, "amount": note.amount})
                return True
            if note.needs_confirmation or order.state in (S.SENDING, S.REVERSING):
                # Unsigned (its500) is never trusted on its own; a reverse in progress
                # returns the money anyway: confirm by query now.
                if order.state not in (S.SENDING,):
                    self._write(order, D.reschedule(self.now()))
                self._wake.set()
                return True
            state = PaymentState(status=PayStatus.PAID, out_trade_no=note.out_trade_no, paid_amount=note.amount,
                                 paid_at=note.paid_at, gateway_trade_no=note.gateway_trade_no, wallet=note.wallet)
            self._write(order, D.paid(order, state, self.now(), self._twin(order)), action="notified_paid")
            return True

    def _twin(self, order: OrderRecord) -> str | None:
        """Another attempt of the same sale that is already paid."""
        twin = next((o for o in self.ledger.orders_for_sale(order.sale_id)
                     if o.out_trade_no != order.out_trade_no and o.state == S.PAID), None)
        return twin.out_trade_no if twin else None


def is_held(order: OrderRecord) -> bool:
    """Paid, but the payment site holds (froze) the money: shown with a warning."""
    return order.state == S.PAID and order.reason_code == D.HELD_REASON
