"""The checkout page: the amount panel, then a QR, waiting or result panel chosen by
the presenter from the order's state.

Every counter call runs on a worker thread (`Workers`); engine events arrive through
`EngineBridge` on the GUI thread. One sale id per amount being collected: every
attempt (QR or scanned code) for it carries the same sale id, so the engine refuses a
second charge while one is unresolved.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QMenu, QStackedWidget, QVBoxLayout, QWidget

from cashier.counter import profile_title
from cashier.i18n import tr
from cashier.ui.checkout import presenter
from cashier.ui.checkout.amount import METHOD_KEYS, AmountEntry, AmountPanel
from cashier.ui.checkout.presenter import Text
from cashier.ui.checkout.texts import error_text, format_yuan, wallet_text
from cashier.ui.scanfilter import KEY_BACKSPACE, KEY_DELETE, KEY_ENTER, KEY_ESCAPE, KEY_F1, KEY_RETURN

ENTRY, BUSY, QR, WAITING, RESULT = "entry", "busy", "qr", "waiting", "result"
KEY_METHODS = {KEY_F1: "merged", KEY_F1 + 1: "wechat", KEY_F1 + 2: "alipay", KEY_F1 + 3: "qq"}
SUCCESS_SECONDS = 5
PANEL_INDEX = {ENTRY: 0, BUSY: 0, QR: 1, WAITING: 2, RESULT: 3}


class CheckoutPage(QWidget):
    status_message = Signal(str)
    attention_changed = Signal()
    customer_view = Signal(object)  # a customer_display.View: what the customer's screen shows

    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.counter = None  # cashier.counter.Counter, once the books are open
        self.profile: str | None = None
        self.methods: list[str] = []
        self.micropay_ok = False
        self.amount = AmountEntry()
        self.sale_id = self._new_sale()
        self.current = None  # the OrderRecord being shown
        self.screen = None  # its presenter.Screen
        self.asked = None  # the engine's CheckAnswer to the clerk's last 查单 of it
        self.pending_code = None  # a scanned payment code waiting for an amount
        self.pending_profile: str | None = None  # the profile that takes it
        self.last_method: str | None = None
        self.cancelled: set[str] = set()  # orders the clerk cancelled here
        self.replace_on_type = False  # the next digit starts a new amount
        self.mode = ENTRY
        self.no_merchant = False  # first run: no merchant account set up (the window says)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.stack = QStackedWidget()
        root = QVBoxLayout(self)
        root.setContentsMargins(16, 16, 16, 16)
        root.addWidget(self.stack)
        self.entry = AmountPanel(self)
        self.stack.addWidget(self.entry)
        e = self.entry  # the names the rest of the window (and the tests) use
        self.caption, self.amount_label, self.message, self.hint = e.caption, e.amount_label, e.message, e.hint
        self.method_buttons, self.keypad, self.enter_button = e.method_buttons, e.keypad, e.enter_button
        self._built = False
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_tick)
        self._success_left = 0
        self._customer_image: tuple[str | None, bytes | None] = (None, None)  # (url, data) of an image-only QR

    def ensure_pages(self) -> None:
        """The QR, waiting and result panels: built after the first frame."""
        if self._built:
            return
        from cashier.ui.checkout.panels import QrPanel, ResultPanel, WaitingPanel

        self._built = True
        self.qr_panel, self.waiting, self.result = QrPanel(self), WaitingPanel(self), ResultPanel(self)
        for panel in (self.qr_panel, self.waiting, self.result):
            self.stack.addWidget(panel)
        q, w, r = self.qr_panel, self.waiting, self.result
        self.qr, self.qr_amount, self.qr_original, self.qr_wallet = q.qr, q.amount, q.original, q.wallet
        self.qr_countdown, self.qr_status, self.qr_order = q.countdown, q.status, q.order
        self.qr_check, self.qr_cancel = q.check, q.cancel
        self.wait_title, self.wait_amount, self.wait_detail, self.wait_status = w.title, w.amount, w.detail, w.status
        self.wait_check, self.wait_stop = w.check, w.stop
        self.result_title, self.result_detail, self.result_next = r.title, r.detail, r.next_step
        self.result_status = r.status
        self.result_order, self.result_check, self.result_back, self.result_ok = r.order, r.check, r.back, r.ok

    # ------------------------------------------------------------------ wiring
    def set_counter(self, counter, profile: str | None) -> None:
        self.counter = counter
        self.set_profile(profile)

    def set_profile(self, profile: str | None) -> None:
        self.profile = profile
        self.methods = []
        self.micropay_ok = False
        if self.counter is not None and profile:
            info = self.counter.info(profile)
            self.methods = [m for m in info.qr_methods if m in METHOD_KEYS]
            self.micropay_ok = info.micropay
        for method, button in self.method_buttons.items():
            button.setVisible(method in self.methods)
        self.entry.profile_label.setText(tr("ui.profile_now", name=profile_title(profile)) if profile else "")
        self.entry.switch_button.setVisible(self.counter is not None and len(self.counter.profiles()) > 1)
        if self.counter is None:
            self.hint.setText(self._not_ready_text())
        elif not profile:
            self.hint.setText(tr("ui.no_profile"))
        else:
            parts = [] if self.methods else [tr("ui.no_methods")]
            if self.micropay_ok:
                parts.append(tr("ui.scan_hint"))
            else:
                via = self.window.micropay_profile()
                if via:
                    parts.append(tr("ui.micropay_via", name=profile_title(via)))
            self.hint.setText(tr("ui.clause_sep").join(parts))
        if self.mode == ENTRY and not self.pending_code:
            self._say("")  # an old profile's refusal no longer applies

    def choose_profile(self) -> QMenu | None:
        """The quick switcher (F6): the usable profiles with what each can do;
        arrows and Enter, or the digit shown."""
        if self.counter is None or self.mode != ENTRY:
            return None
        from cashier.counter import capability_text

        menu = QMenu(self)
        for i, name in enumerate(self.counter.profiles(), 1):
            info = self.counter.info(name)
            can = [tr("ui.method." + m) for m in info.qr_methods if m == "merged"]
            can += [capability_text(c) for c in ("micropay", "refund") if c in info.capabilities]
            if not can:  # QR codes per wallet only (its500): say which, not a bare name
                can = [tr("ui.method." + m) for m in info.qr_methods if m in METHOD_KEYS]
            title = profile_title(name)
            text = tr("ui.profile_can", name=title, what=tr("ui.list_sep").join(can)) if can else title
            action = menu.addAction(f"&{i}  {text}" if i < 10 else text)
            action.setCheckable(True)
            action.setChecked(name == self.profile)
            action.triggered.connect(lambda _=False, n=name: self.window.use_profile(n))
        self.switch_menu = menu
        menu.aboutToHide.connect(lambda: QTimer.singleShot(0, self._take_keys))
        # Under the amount box, not under the button: the amount is right-aligned, and a
        # menu dropped from the button covered it (the box read empty at 1024×768).
        box = self.amount_label
        menu.popup(box.mapToGlobal(QPoint(0, box.height())))
        return menu

    def set_no_merchant(self, on: bool) -> None:
        """First run: no merchant account is set up, so nothing is "connecting"."""
        self.no_merchant = on
        if self.counter is None:
            self.hint.setText(self._not_ready_text())

    def _not_ready_text(self) -> str:
        return tr("ui.no_merchant") if self.no_merchant else tr("ui.not_ready")

    def _take_keys(self) -> None:
        """The keys back to the checkout (a popup closed; no window manager may do it)."""
        QWidget.window(self).activateWindow()
        self.setFocus()

    def _new_sale(self) -> str:
        return uuid.uuid4().hex[:16]

    def _set_mode(self, mode: str) -> None:
        if mode != ENTRY:
            self.ensure_pages()
        self.mode = mode
        self.stack.setCurrentIndex(PANEL_INDEX[mode])
        busy = mode == BUSY
        for b in self.method_buttons.values():
            b.setEnabled(not busy)
        self.enter_button.setEnabled(not busy)
        if mode in (QR, WAITING):
            self._tick.start()
        elif mode != RESULT:
            self._tick.stop()
        self.setFocus()
        self._publish_customer_view()

    def _publish_customer_view(self, image: bytes | None = None) -> None:
        """Tell the customer display what this screen shows, in its terms."""
        from cashier.ui import customer_display as cd

        order = self.current
        if self.mode == QR and order is not None:
            if image is not None:
                self._customer_image = (order.qr_image_url, image)
            elif not self.qr.payload and self._customer_image[0] == order.qr_image_url:
                image = self._customer_image[1]
            wallet = order.method if order.method in ("wechat", "alipay", "qq") else None
            view = cd.View(cd.QR, order.amount_to_pay, payload=self.qr.payload, image=image, wallet=wallet)
        elif self.mode == WAITING and order is not None:
            view = cd.View(cd.CONFIRM, order.amount)
        elif self.mode == RESULT and order is not None:
            paid = self.screen is not None and self.screen.paid
            view = cd.View(cd.PAID if paid else cd.NOT_PAID, order.paid_amount or order.amount_to_pay)
        else:
            try:
                amount = Decimal(self.amount.text) if self.amount.text and not self.replace_on_type else None
            except ArithmeticError:
                amount = None
            if not amount:
                view = cd.View(cd.IDLE)
            else:
                view = cd.View(cd.SCAN if self.micropay_ok else cd.AMOUNT, amount)
        self.customer_view.emit(view)

    def _say(self, text: str, *, note: bool = False) -> None:
        """The message line: a refusal or a problem (red), or with `note` a plain
        report of something done (a cash sale), not in the error's red."""
        if bool(self.message.property("note")) != note:
            self.message.setProperty("note", note)
            self.message.style().unpolish(self.message)
            self.message.style().polish(self.message)
        self.message.setText(text)

    def _show_amount(self) -> None:
        self.amount_label.setText(self.amount.display())
        self.amount_label.setProperty("stale", self.replace_on_type)
        self.amount_label.style().unpolish(self.amount_label)
        self.amount_label.style().polish(self.amount_label)
        if self.mode == ENTRY:
            self._publish_customer_view()

    # ------------------------------------------------------------------ keys
    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        key = event.key()
        text = event.text()
        if event.matches(QKeySequence.StandardKey.Paste) or (
                key == Qt.Key.Key_Insert and event.modifiers() == Qt.KeyboardModifier.ShiftModifier):
            self.paste()
            return
        if key in KEY_METHODS:
            if self.mode == ENTRY:
                self.pay(KEY_METHODS[key])
            return
        if key in (KEY_RETURN, KEY_ENTER):
            self.enter()
            return
        if key == KEY_ESCAPE:
            self.escape()
            return
        if self.mode == RESULT and text and (text.isdigit() or text in ".。") and not (
                self.current is not None and self.current.state == presenter.PAID):
            self.back()  # after a cancel or an expiry, a new amount replaces the old one
        if self.mode != ENTRY:
            if self.mode == BUSY and text and text.isprintable():
                self._say(tr("ui.key.busy"))
            return super().keyPressEvent(event)
        if key == KEY_BACKSPACE:
            self._pad("⌫")
        elif key == KEY_DELETE:
            self._pad("C")
        elif text and (text in ".。" or text.isdigit()):
            self._pad("." if text in ".。" else text)
        elif text and text.isprintable() and not event.modifiers() & (
                Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier):
            QApplication.beep()
            self._say(tr("ui.key.not_amount"))
        else:
            super().keyPressEvent(event)

    def focusInEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._mark_focus(True)
        super().focusInEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._mark_focus(False)
        super().focusOutEvent(event)

    def _mark_focus(self, on: bool) -> None:
        """The amount box shows that typing goes to it."""
        self.amount_label.setProperty("focused", on)
        self.amount_label.style().unpolish(self.amount_label)
        self.amount_label.style().polish(self.amount_label)

    def focusNextPrevChild(self, _next: bool) -> bool:  # noqa: N802 (Qt name)
        return False  # Tab stays on the checkout: every action here has its own key

    def _pad(self, key: str) -> None:
        if self.mode != ENTRY:
            return
        if key == "⌫":
            self.replace_on_type = False
            self.amount.backspace()
        elif key == "C":
            self.amount.clear()
        else:
            if self.replace_on_type:
                self.amount.clear()
            if not self.amount.press(key):
                QApplication.beep()
                refusal = self.amount.refusal
                self._say(tr(refusal[0], **refusal[1]) if refusal else "")
                return
        self.replace_on_type = False
        self._say(self._code_reminder())  # a scanned code's reminder stays until it is paid
        self._show_amount()

    def paste(self) -> None:
        """Ctrl+V / Shift+Insert: a valid amount is taken whole; anything else is
        refused with the reason (the pasted text itself is never shown)."""
        if self.mode != ENTRY:
            return
        from cashier.money import AmountError, parse_amount

        text = (QGuiApplication.clipboard().text() or "").strip()
        if not text:
            self._say(tr("ui.paste.empty"))
            return
        try:
            value = parse_amount(text)
        except AmountError as exc:
            QApplication.beep()
            self._say(tr("ui.paste.refused", reason=exc.message().rstrip("。.")))
            return
        typed = AmountEntry()
        for ch in format(value, "f").rstrip("0").rstrip(".") if "." in format(value, "f") else format(value, "f"):
            if not typed.press(ch):
                QApplication.beep()
                refusal = typed.refusal
                self._say(tr("ui.paste.refused", reason=tr(refusal[0], **refusal[1]) if refusal else ""))
                return
        self.amount.text = typed.text
        self.replace_on_type = False
        self._show_amount()
        self._say(self._code_reminder() or tr("ui.paste.pasted", amount=format_yuan(value)))

    def escape(self) -> None:
        if self.mode == ENTRY:
            self.amount.clear()
            self.pending_code = self.pending_profile = None
            self.replace_on_type = False
            self._show_amount()
            self._say("")
        elif self.mode in (QR, WAITING):
            self.cancel()
        elif self.mode == RESULT:
            self.back()

    def enter(self) -> None:
        if self.mode == ENTRY:
            if self.pending_code is not None:
                self.micropay(self.pending_code, self.pending_profile)
            elif self.methods:
                self.pay(self.last_method if self.last_method in self.methods else self.methods[0])
        elif self.mode == RESULT:
            if self.current is not None and self.current.state == presenter.PAID:
                self.new_checkout()
            else:
                self.retry()

    # ------------------------------------------------------------------ actions
    def _parsed_amount(self, profile: str | None = None, quiet: bool = False) -> Decimal | None:
        from cashier.money import AmountError

        try:
            return self.counter.parse_amount(self.amount.text, profile or self.profile)
        except AmountError as exc:
            if not quiet:
                self._say(exc.message())
            return None

    def _ready(self) -> bool:
        if self.counter is None:
            self._say(self._not_ready_text())
            return False
        if not self.profile:
            self._say(tr("ui.no_profile"))
            return False
        return True

    def pay(self, method: str) -> None:
        if self.mode != ENTRY or not self._ready():
            return
        if method not in self.methods:
            return
        amount = self._parsed_amount()
        if amount is None:
            return
        self.last_method = method
        self.pending_code = self.pending_profile = None
        self.replace_on_type = False
        self._set_mode(BUSY)
        self._say(tr("ui.creating"))
        counter, profile, sale = self.counter, self.profile, self.sale_id
        self.window.workers.run(lambda: counter.start_qr(profile, amount, method, sale),
                                self._on_started, self._on_start_failed)

    def micropay(self, scan, profile: str | None = None) -> None:
        """Charge a scanned payment code through `profile` (default: the active one)."""
        if self.mode != ENTRY or not self._ready():
            return
        profile = profile or self.profile
        amount = self._parsed_amount(profile, quiet=not self.amount.text)
        if amount is None:
            self.pending_code, self.pending_profile = scan, profile
            if not self.amount.text:
                self._say(self._code_reminder())
            return
        self.pending_code = self.pending_profile = None
        self.replace_on_type = False
        self._set_mode(BUSY)
        self._say(tr("ui.charging"))
        counter, sale = self.counter, self.sale_id
        self.window.workers.run(lambda: counter.start_micropay(profile, amount, scan.code, sale),
                                self._on_started, self._on_start_failed)

    def _code_reminder(self) -> str:
        scan = self.pending_code
        return tr("ui.code_waiting_amount", wallet=wallet_text(scan.wallet.value)) if scan else ""

    def on_scan(self, scan) -> None:
        """A burst from the scanner (the checkout had focus)."""
        if scan.kind == "order" and self.mode in (ENTRY, RESULT):
            # A printed receipt's code: open that order in 订单/退款 (for a refund).
            self.window.open_order(scan.code)
            return
        if scan.broken and self.mode == ENTRY:
            # The head of the cut-short scan may have reached the amount as typing.
            self.amount.clear()
            self._show_amount()
            self._show_scan_message(tr("ui.scan_broken"))
            return
        if not scan.is_payment_code:
            self._show_scan_message(scan.not_a_payment_code().message())
            return
        if self.mode == RESULT and not (self.current is not None and self.current.state == presenter.PAID):
            self.back()
        if self.mode != ENTRY:
            self.status_message.emit(tr("ui.scan_not_now"))
            return
        if not self._ready():
            return
        if self.micropay_ok:
            self.micropay(scan)
            return
        target = self.window.micropay_profile()
        if target is not None:
            self.micropay(scan, target)
            return
        able = self.counter.micropay_profiles()
        if able:
            self._say(tr("ui.no_micropay", name=profile_title(self.profile),
                         names=tr("ui.list_sep").join(profile_title(n) for n in able)))
        else:
            self._say(tr("ui.no_micropay_none", name=profile_title(self.profile)))

    def _show_scan_message(self, text: str) -> None:
        if self.mode == ENTRY:
            self._say(text)  # said where the clerk looks; the status bar only elsewhere
        else:
            self.status_message.emit(text)

    def _on_started(self, order) -> None:
        self.current, self.asked = order, None
        self.show_order(order)
        self.attention_changed.emit()

    def _on_start_failed(self, exc: BaseException) -> None:
        self._set_mode(ENTRY)
        self._say(error_text(exc))
        self.attention_changed.emit()

    def cancel(self) -> None:
        order = self.current
        if order is None or self.mode not in (QR, WAITING):
            return
        if self.screen is not None and not self.screen.can_stop:
            self.status_message.emit(tr("ui.reversing_detail"))
            return
        self.cancelled.add(order.out_trade_no)
        self.qr_cancel.setEnabled(False)
        self.wait_stop.setEnabled(False)
        counter, no = self.counter, order.out_trade_no
        self.window.workers.run(lambda: counter.stop_waiting(no, actor="clerk"),
                                self.on_order, lambda exc: self._on_action_failed(exc, no))

    def check_current(self) -> None:
        """查单 (F5): the engine asks now, answers with a query of a moment ago, or
        queues it for the gateway's next query slot; the page says which, then the
        answer when it comes. Never "too soon": the engine's own query is not the
        clerk's fault."""
        order = self.current
        if order is None or self.counter is None:
            return
        counter, no = self.counter, order.out_trade_no
        self.window.workers.run(lambda: counter.check_soon(no, actor="clerk"), self._on_checked,
                                lambda exc: self._on_action_failed(exc, no))

    def _on_checked(self, answer) -> None:
        self.attention_changed.emit()
        order = answer.order
        if self.current is None or order.out_trade_no != self.current.out_trade_no:
            return  # the clerk moved on
        self.asked = answer
        if order.updated_at >= self.current.updated_at:
            self.current = order
        self.show_order(self.current)

    def _on_action_failed(self, exc: BaseException, out_trade_no: str | None = None) -> None:
        """Said on the panel of the order it is about: the checkout's own words never
        go to the window's status bar, where they outlived a switch to another page."""
        if out_trade_no is not None and (self.current is None or self.current.out_trade_no != out_trade_no):
            return  # about an order no longer on screen
        text = error_text(exc)
        label = {QR: getattr(self, "qr_status", None), WAITING: getattr(self, "wait_status", None),
                 RESULT: getattr(self, "result_status", None)}.get(self.mode)
        if label is not None:
            label.setText(text)
            label.setVisible(True)
        can_stop = self.screen is None or self.screen.can_stop
        if self._built:
            self.qr_cancel.setEnabled(can_stop)
            self.wait_stop.setEnabled(can_stop)

    def back(self) -> None:
        """From a result: back to the amount (same sale unless it was paid); the
        next digit typed starts a new amount."""
        if self.current is not None and self.current.state == presenter.PAID:
            self.new_checkout()
            return
        self.current = self.screen = self.asked = None
        self.replace_on_type = bool(self.amount.text)
        self._set_mode(ENTRY)
        self._show_amount()
        self._say(tr("ui.replace_hint") if self.replace_on_type else "")

    def retry(self) -> None:
        self.current = self.screen = self.asked = None
        self.replace_on_type = False
        self._set_mode(ENTRY)
        self._show_amount()
        self._say("")
        if self.last_method in self.methods and (self.last_method is not None):
            self.pay(self.last_method)

    def new_checkout(self) -> None:
        self.current = self.screen = self.asked = None
        self.sale_id = self._new_sale()
        self.amount.clear()
        self.pending_code = self.pending_profile = None
        self.replace_on_type = False
        self._show_amount()
        self._say("")
        self._set_mode(ENTRY)

    # ------------------------------------------------------------------ orders
    def on_order(self, order) -> None:
        """An order changed (engine event or an action's answer)."""
        self.attention_changed.emit()
        if self.current is None or order.out_trade_no != self.current.out_trade_no:
            return
        if order.updated_at < self.current.updated_at:
            return  # an older snapshot arriving late
        self.current = order
        self.show_order(order)

    def show_order(self, order) -> None:
        self.ensure_pages()
        if self.asked is not None and self.asked.order.out_trade_no != order.out_trade_no:
            self.asked = None  # a 查单 of another order says nothing about this one
        screen = presenter.present(order, self.counter.now(), cancelled=order.out_trade_no in self.cancelled)
        self.screen = screen
        if screen.panel == presenter.RESULT:
            self._show_result(screen)
        elif screen.panel == presenter.WAITING:
            self._show_waiting(order, screen)
        else:
            self._show_qr(order, screen)

    def _show_qr(self, order, screen) -> None:
        if self.mode != QR or self.qr.payload != (order.qr or None):
            if order.qr:
                self.qr.set_payload(order.qr)
            elif order.qr_image_url:
                self.qr.clear()
                self._download_image(order)
            else:
                self.qr.clear()
        self.qr_amount.setText("¥ " + format_yuan(order.amount_to_pay))
        if order.amount_to_pay != order.amount:
            self.qr_original.setText(tr("ui.original", amount=format_yuan(order.amount),
                                        pay=format_yuan(order.amount_to_pay)))
            self.qr_original.show()
        else:
            self.qr_original.hide()
        self.qr_wallet.setText(presenter.scan_with(order).render())
        self.qr_status.setText(self._status_text(order, screen))
        self.qr_order.setText(tr("ui.order_no", no=order.out_trade_no))
        self.qr_cancel.setEnabled(screen.can_stop)
        self._set_mode(QR)
        self._update_countdown()

    def _download_image(self, order) -> None:
        url = order.qr_image_url
        self.qr_status.setText(tr("ui.loading_image"))

        counter = self.counter

        def fetch() -> bytes:
            return counter.qr_image(order)

        def done(data: bytes) -> None:
            if self.current is not None and self.current.qr_image_url == url:
                self.qr.set_image(data)
                self._publish_customer_view(image=data)
                if self.screen is not None:  # the picture is the code: nothing more to say about it
                    self.qr_status.setText(self._status_text(self.current, self.screen))

        self.window.workers.run(fetch, done, lambda exc: self._on_action_failed(exc, order.out_trade_no))

    def _status_text(self, order, screen) -> str:
        """The order's state, and under it what the clerk's 查单 found (or when it goes out)."""
        last = self.counter.last_query(order.out_trade_no) if self.asked is not None else None
        note = presenter.check_note(order, self.asked, last)
        return "\n".join(t for t in (screen.status.render(), note.render()) if t)

    def _show_waiting(self, order, screen) -> None:
        self.wait_title.setText(screen.title.render())  # not "ask the customer to confirm" while undoing
        self.wait_amount.setText("¥ " + format_yuan(order.amount))
        self.wait_status.setText(self._status_text(order, screen))
        self.wait_stop.setEnabled(screen.can_stop)
        self.wait_stop.setVisible(screen.can_stop)
        if not screen.countdown:
            self.wait_detail.setText(Text("ui.pair", {
                "a": Text("ui.waiting_code", {"wallet": wallet_text(order.wallet),
                                              "last4": order.auth_code_last4 or ""}),
                "b": Text(raw="\n" + screen.detail.render())}).render())
        self._set_mode(WAITING)
        self._update_countdown()

    def _show_result(self, screen) -> None:
        order = self.current
        self.result.set_kind(screen.kind)
        self.result_title.setText(("✓ " if screen.paid else "") + screen.title.render())
        detail = screen.detail.render()
        if screen.paid and order is not None and order.profile and order.profile != self.profile:
            # A payment code forwarded to another profile: say which merchant has the money.
            detail = "\n".join(t for t in (detail, tr("ui.paid_by", name=profile_title(order.profile))) if t)
        self.result_detail.setText(detail)
        self.result_detail.setVisible(bool(detail))
        self.result_next.setText(screen.next_step.render())
        self.result_order.setText(tr("ui.order_no", no=order.out_trade_no) if order else "")
        self.result_ok.setText((tr("ui.next_checkout") if screen.paid else tr("ui.retry")) + "  Enter")
        self.result_back.setVisible(not screen.paid)
        self.result_check.setVisible(screen.can_check)
        status = self._status_text(order, screen) if order is not None else ""
        self.result_status.setText(status)
        self.result_status.setVisible(bool(status))
        self._set_mode(RESULT)
        if screen.paid and not screen.next_step:  # a paid screen with a warning stays up
            self._success_left = SUCCESS_SECONDS
            self.result_next.setText(tr("ui.back_in", s=self._success_left))
            self._tick.start()
        else:
            self._tick.stop()

    def _update_countdown(self) -> None:
        order = self.current
        if order is None or self.counter is None or self.screen is None or not self.screen.countdown:
            return
        now = self.counter.now()
        if self.mode == WAITING:
            self.wait_detail.setText(presenter.waiting_detail(order, now).render())
        elif self.mode == QR:
            text = presenter.countdown(order, now)
            self.qr_countdown.setText(text.render())
            # "Time is up, checking once more" stands alone: not over "waiting for the customer".
            self.qr_status.setVisible(text.key != "ui.expiring")

    def _on_tick(self) -> None:
        if self.mode == RESULT:
            if self.current is not None and self.current.state == presenter.PAID:
                self._success_left -= 1
                if self._success_left <= 0:
                    self.new_checkout()
                else:
                    self.result_next.setText(tr("ui.back_in", s=self._success_left))
            return
        self._update_countdown()
