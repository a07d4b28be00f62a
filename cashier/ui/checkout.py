"""The checkout: amount, payment choice, QR panel, micropay waiting, result.

Every engine call runs on a worker thread (`Workers`); engine events arrive through
`EngineBridge` on the GUI thread. One sale id per amount being collected: every
attempt (QR or scanned code) for it carries the same sale id, so the engine refuses a
second charge while one is unresolved.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication, QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QStackedWidget,
    QVBoxLayout, QWidget,
)

from cashier.ledger import states as S
from cashier.i18n import UserError, define, tr
from cashier.ui.scanfilter import KEY_BACKSPACE, KEY_DELETE, KEY_ENTER, KEY_ESCAPE, KEY_F1, KEY_RETURN

define({
    "ui.amount_caption": ("收款金额（元）", "Amount to collect (¥)"),
    "ui.method.merged": ("一码付", "Any wallet"),
    "ui.method.wechat": ("微信", "WeChat"),
    "ui.method.alipay": ("支付宝", "Alipay"),
    "ui.method.qq": ("QQ钱包", "QQ Wallet"),
    "ui.scan_hint": ("输入金额后，可直接扫顾客的付款码", "Enter the amount, then scan the customer's payment code"),
    "ui.no_methods": ("当前商户配置不能生成收款码", "This profile cannot show a payment QR code"),
    "ui.no_micropay": ("“{name}”不能收付款码，未扣款。可以收付款码的商户配置：{names}（在“设置”里选择）",
                       "'{name}' cannot take payment codes; nothing was charged. Profiles that can: {names} (choose one in Settings)"),
    "ui.no_micropay_none": ("“{name}”不能收付款码，未扣款；没有能收付款码的商户配置，请让顾客扫收款码",
                            "'{name}' cannot take payment codes; nothing was charged. No profile can: show a QR code instead"),
    "ui.micropay_via": ("扫到的付款码将由“{name}”收款", "Scanned payment codes are taken by '{name}'"),
    "ui.list_sep": ("、", ", "),
    "ui.clause_sep": ("；", "; "),
    "ui.not_ready": ("正在连接支付网关，请稍候…", "Connecting to the gateway, one moment…"),
    "ui.no_profile": ("还没有可用的商户配置：请在“设置”里添加", "No usable merchant profile: add one in Settings"),
    "ui.code_waiting_amount": ("已扫到{wallet}付款码，请输入金额后按 Enter 收款", "{wallet} payment code scanned: enter the amount and press Enter"),
    "ui.scan_not_now": ("请先处理当前订单，再扫付款码", "Finish the current order before scanning a code"),
    "ui.creating": ("正在生成收款码…", "Creating the payment code…"),
    "ui.charging": ("正在扣款…", "Charging…"),
    "ui.pay_amount": ("应付金额", "To pay"),
    "ui.original": ("原价 ¥{amount}，优惠后实付 ¥{pay}", "Price ¥{amount}, discounted to ¥{pay}"),
    "ui.scan_with.merged": ("请用微信或支付宝扫码付款", "Scan with WeChat or Alipay"),
    "ui.scan_with.wechat": ("请用微信扫码付款", "Scan with WeChat"),
    "ui.scan_with.alipay": ("请用支付宝扫码付款", "Scan with Alipay"),
    "ui.scan_with.qq": ("请用QQ扫码付款", "Scan with QQ"),
    "ui.countdown": ("剩余 {m}:{s:02d}", "{m}:{s:02d} left"),
    "ui.image_only": ("（网关只提供了二维码图片）", "(the gateway gave only an image)"),
    "ui.loading_image": ("正在下载二维码图片…", "Downloading the QR image…"),
    "ui.state.sending": ("正在发送…", "Sending…"),
    "ui.state.pending": ("等待顾客扫码付款", "Waiting for the customer to pay"),
    "ui.state.userpaying": ("顾客正在手机上确认（输入密码）", "The customer is confirming on the phone"),
    "ui.state.unknown": ("结果未知，正在查询…", "Outcome unknown, querying…"),
    "ui.state.closing": ("正在关闭订单…", "Closing the order…"),
    "ui.state.reversing": ("正在撤销付款…", "Reversing the payment…"),
    "ui.state.expired": ("已过期，仍在留意迟到的付款", "Expired; still watching for a late payment"),
    "ui.state.needs_check": ("需要人工核对", "Needs checking by a person"),
    "ui.state.paid": ("已付款", "Paid"),
    "ui.state.closed": ("已关闭", "Closed"),
    "ui.state.reversed": ("已撤销", "Reversed"),
    "ui.state.failed": ("失败", "Failed"),
    "ui.check": ("查单", "Check status"),
    "ui.cancel": ("取消 (Esc)", "Cancel (Esc)"),
    "ui.stop_waiting": ("停止等待 (Esc)", "Stop waiting (Esc)"),
    "ui.waiting_title": ("请顾客在手机上确认付款", "Ask the customer to confirm on the phone"),
    "ui.waiting_detail": ("{wallet}付款码 …{last4}　已等待 {elapsed} 秒；{limit} 秒内未确认将自动撤销",
                          "{wallet} code …{last4}, waited {elapsed} s; reversed automatically if not confirmed within {limit} s"),
    "ui.paid_title": ("收款成功", "Payment received"),
    "ui.paid_detail": ("¥{amount}　{wallet}　{time}", "¥{amount}  {wallet}  {time}"),
    "ui.order_no": ("订单号 {no}", "Order {no}"),
    "ui.next_checkout": ("继续收款 (Enter)", "Next sale (Enter)"),
    "ui.back_in": ("{s} 秒后自动返回收款", "Back to checkout in {s} s"),
    "ui.back": ("返回 (Esc)", "Back (Esc)"),
    "ui.retry": ("重新收款 (Enter)", "Try again (Enter)"),
    "ui.expired_title": ("二维码已过期", "The QR code expired"),
    "ui.expired_next": ("顾客没有付款。按 Enter 重新生成收款码。", "The customer did not pay. Press Enter for a new code."),
    "ui.cancelled_title": ("已取消收款", "Payment cancelled"),
    "ui.cancelled_next": ("顾客未被扣款。按 Enter 重新收款，按 Esc 返回修改金额。", "The customer was not charged. Enter to try again, Esc to change the amount."),
    "ui.watched_next": ("按 Enter 重新收款，按 Esc 返回修改金额。如顾客稍后仍付了款，会显示在“待处理”里，可以退款。",
                        "Enter to try again, Esc to change the amount. If the customer still pays later, it shows under 'To check' and can be refunded."),
    "ui.reversed_title": ("付款已撤销", "Payment reversed"),
    "ui.reversed_next": ("顾客未被扣款（如已扣款会原路退回）。请顾客刷新付款码后重新扫码。",
                         "The customer is not charged (any charge goes back). Ask for a fresh code and scan again."),
    "ui.failed_title": ("付款失败", "Payment failed"),
    "ui.failed_next": ("{reason}。请顾客刷新付款码后重新扫码，或换一种方式付款。",
                       "{reason}. Ask the customer to refresh the code and scan again, or pay another way."),
    "ui.needs_check_title": ("需要人工核对", "Needs checking"),
    "ui.needs_check_next": ("{reason}。订单已记入“待处理”，请核对后标记为已核对。",
                            "{reason}. The order is listed under 'To check': look at it and mark it checked."),
    "ui.error_title": ("未能发起收款", "Could not start the payment"),
    "ui.in_progress": ("这笔收款仍在处理（{no}），请在“待处理”里查看", "This sale is still being settled ({no}): see 'To check'"),
})

ENTRY, BUSY, QR, WAITING, RESULT = "entry", "busy", "qr", "waiting", "result"
# Methods by their value ("merged", ...): cashier.gateways is imported only when the
# engine is there, after the first frame.
METHODS = ("merged", "wechat", "alipay", "qq")
METHOD_KEYS = {"merged": "F1", "wechat": "F2", "alipay": "F3", "qq": "F4"}
KEY_METHODS = {KEY_F1: "merged", KEY_F1 + 1: "wechat", KEY_F1 + 2: "alipay", KEY_F1 + 3: "qq"}
MAX_DIGITS = 8  # before the decimal point
SUCCESS_SECONDS = 5
UNRESOLVED = S.UNRESOLVED_ORDER_STATES - {S.EXPIRED, S.CANCELLED, S.NEEDS_CHECK}


def format_yuan(value) -> str:
    from cashier.money import format_yuan as fmt

    return fmt(value)


def wallet_text(wallet: str) -> str:
    return tr("ui.method." + wallet) if wallet in ("wechat", "alipay", "qq") else {
        "unionpay": "云闪付", "merged": tr("ui.method.merged")}.get(wallet, "")


def _label(name: str, text: str = "", *, wrap: bool = False, align=Qt.AlignmentFlag.AlignCenter) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setAlignment(align)
    label.setWordWrap(wrap)
    return label


class AmountEntry:
    """The typed amount as text, edited one key at a time (no float, no parsing here)."""

    def __init__(self) -> None:
        self.text = ""

    def press(self, ch: str) -> bool:
        t = self.text
        if ch == ".":
            if "." in t:
                return False
            self.text = (t or "0") + "."
            return True
        if not ch.isdigit() or not ch.isascii():
            return False
        if "." in t:
            if len(t.split(".")[1]) >= 2:
                return False
        elif len(t.lstrip("0")) >= MAX_DIGITS:
            return False
        self.text = ch if t == "0" else t + ch
        return True

    def backspace(self) -> None:
        self.text = self.text[:-1]

    def clear(self) -> None:
        self.text = ""

    def display(self) -> str:
        return "¥ " + (self.text or "0")


class CheckoutPage(QWidget):
    status_message = Signal(str)
    attention_changed = Signal()

    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.engine = None
        self.profile: str | None = None
        self.methods: list[str] = []
        self.micropay_ok = False
        self.amount = AmountEntry()
        self.sale_id = self._new_sale()
        self.current = None  # the OrderRecord being shown
        self.pending_code = None  # a scanned payment code waiting for an amount
        self.pending_profile: str | None = None  # the profile that takes it
        self.last_method: str | None = None
        self.mode = ENTRY
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._build()
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_tick)
        self._success_left = 0

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.stack = QStackedWidget()
        root = QVBoxLayout(self)
        root.setContentsMargins(16, 16, 16, 16)
        root.addWidget(self.stack)
        self.stack.addWidget(self._build_entry())
        self._built = False

    def ensure_pages(self) -> None:
        """The QR, waiting and result pages: built after the first frame."""
        if self._built:
            return
        self._built = True
        self.stack.addWidget(self._build_qr())
        self.stack.addWidget(self._build_waiting())
        self.stack.addWidget(self._build_result())

    def _build_entry(self) -> QWidget:
        page = QWidget()
        layout = QHBoxLayout(page)
        left = QVBoxLayout()
        self.caption = _label("amountCaption", tr("ui.amount_caption"), align=Qt.AlignmentFlag.AlignLeft)
        self.amount_label = _label("amount", self.amount.display(),
                                   align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.message = _label("message", "", wrap=True, align=Qt.AlignmentFlag.AlignLeft)
        left.addWidget(self.caption)
        left.addWidget(self.amount_label)
        left.addWidget(self.message)
        self.method_row = QGridLayout()
        self.method_buttons: dict[str, QPushButton] = {}
        for method in METHODS:
            button = QPushButton(f"{METHOD_KEYS[method]}  {tr('ui.method.' + method)}")
            button.setObjectName("method")
            button.setProperty("wallet", method)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _=False, m=method: self.pay(m))
            button.hide()
            self.method_buttons[method] = button
            index = METHODS.index(method)
            self.method_row.addWidget(button, index // 2, index % 2)
        left.addLayout(self.method_row)
        self.hint = _label("hint", tr("ui.not_ready"), wrap=True, align=Qt.AlignmentFlag.AlignLeft)
        left.addWidget(self.hint)
        left.addStretch(1)
        layout.addLayout(left, 3)

        pad = QGridLayout()
        pad.setSpacing(10)
        keys = [("7", 0, 0), ("8", 0, 1), ("9", 0, 2), ("4", 1, 0), ("5", 1, 1), ("6", 1, 2),
                ("1", 2, 0), ("2", 2, 1), ("3", 2, 2), ("0", 3, 0), (".", 3, 1), ("⌫", 3, 2)]
        self.keypad: dict[str, QPushButton] = {}
        for text, row, col in keys:
            button = QPushButton(text)
            button.setObjectName("key")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _=False, t=text: self._pad(t))
            pad.addWidget(button, row, col)
            self.keypad[text] = button
        clear = QPushButton("C")
        clear.setObjectName("key")
        clear.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        clear.clicked.connect(lambda: self._pad("C"))
        pad.addWidget(clear, 4, 0)
        self.keypad["C"] = clear
        self.enter_button = QPushButton("Enter ⏎")
        self.enter_button.setObjectName("primary")
        self.enter_button.setProperty("enter", True)
        self.enter_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.enter_button.clicked.connect(self.enter)
        pad.addWidget(self.enter_button, 4, 1, 1, 2)
        holder = QFrame()
        holder.setObjectName("card")
        holder.setLayout(pad)
        layout.addWidget(holder, 2)
        return page

    def _build_qr(self) -> QWidget:
        from cashier.ui.qr import QrWidget

        page = QFrame()
        page.setObjectName("card")
        layout = QHBoxLayout(page)
        self.qr = QrWidget()
        layout.addWidget(self.qr, 3)
        side = QVBoxLayout()
        self.qr_caption = _label("amountCaption", tr("ui.pay_amount"))
        self.qr_amount = _label("payAmount")
        self.qr_original = _label("original", wrap=True)
        self.qr_wallet = _label("wallet", wrap=True)
        self.qr_countdown = _label("countdown")
        self.qr_status = _label("status", wrap=True)
        self.qr_order = _label("hint", wrap=True)
        for w in (self.qr_caption, self.qr_amount, self.qr_original, self.qr_wallet, self.qr_countdown,
                  self.qr_status, self.qr_order):
            side.addWidget(w)
        side.addStretch(1)
        buttons = QHBoxLayout()
        self.qr_check = QPushButton(tr("ui.check"))
        self.qr_check.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.qr_check.clicked.connect(self.check_current)
        self.qr_cancel = QPushButton(tr("ui.cancel"))
        self.qr_cancel.setObjectName("danger")
        self.qr_cancel.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.qr_cancel.clicked.connect(self.cancel)
        buttons.addWidget(self.qr_check)
        buttons.addWidget(self.qr_cancel)
        side.addLayout(buttons)
        layout.addLayout(side, 2)
        return page

    def _build_waiting(self) -> QWidget:
        page = QFrame()
        page.setObjectName("card")
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        self.wait_title = _label("bigTitle", tr("ui.waiting_title"), wrap=True)
        self.wait_amount = _label("payAmount")
        self.wait_detail = _label("hint", wrap=True)
        self.wait_status = _label("status", wrap=True)
        for w in (self.wait_title, self.wait_amount, self.wait_detail, self.wait_status):
            layout.addWidget(w)
        layout.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.wait_check = QPushButton(tr("ui.check"))
        self.wait_check.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.wait_check.clicked.connect(self.check_current)
        self.wait_stop = QPushButton(tr("ui.stop_waiting"))
        self.wait_stop.setObjectName("danger")
        self.wait_stop.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.wait_stop.clicked.connect(self.cancel)
        buttons.addWidget(self.wait_check)
        buttons.addWidget(self.wait_stop)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addStretch(1)
        return page

    def _build_result(self) -> QWidget:
        page = QFrame()
        page.setObjectName("card")
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        self.result_title = _label("success", wrap=True)
        self.result_detail = _label("wallet", wrap=True)
        self.result_next = _label("hint", wrap=True)
        self.result_order = _label("hint", wrap=True)
        for w in (self.result_title, self.result_detail, self.result_next, self.result_order):
            layout.addWidget(w)
        layout.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.result_check = QPushButton(tr("ui.check"))
        self.result_check.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.result_check.clicked.connect(self.check_current)
        self.result_back = QPushButton(tr("ui.back"))
        self.result_back.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.result_back.clicked.connect(self.back)
        self.result_ok = QPushButton(tr("ui.next_checkout"))
        self.result_ok.setObjectName("primary")
        self.result_ok.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.result_ok.clicked.connect(self.enter)
        for b in (self.result_check, self.result_back, self.result_ok):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addStretch(1)
        return page

    # ------------------------------------------------------------------ wiring
    def set_engine(self, engine, profile: str | None) -> None:
        self.engine = engine
        self.set_profile(profile)

    def set_profile(self, profile: str | None) -> None:
        self.profile = profile
        self.methods = []
        self.micropay_ok = False
        if self.engine is not None and profile:
            from cashier.gateways.base import Capability

            gw = self.engine.gateway(profile)
            self.methods = [m.value for m in gw.qr_methods() if m.value in METHOD_KEYS]
            self.micropay_ok = gw.supports(Capability.MICROPAY)
        for method, button in self.method_buttons.items():
            button.setVisible(method in self.methods)
        if self.engine is None:
            self.hint.setText(tr("ui.not_ready"))
        elif not profile:
            self.hint.setText(tr("ui.no_profile"))
        else:
            parts = [] if self.methods else [tr("ui.no_methods")]
            if self.micropay_ok:
                parts.append(tr("ui.scan_hint"))
            else:
                via = self.window.micropay_profile() if hasattr(self.window, "micropay_profile") else None
                if via:
                    parts.append(tr("ui.micropay_via", name=via))
            self.hint.setText(tr("ui.clause_sep").join(parts))

    def _new_sale(self) -> str:
        return uuid.uuid4().hex[:16]

    def _set_mode(self, mode: str) -> None:
        if mode != ENTRY:
            self.ensure_pages()
        self.mode = mode
        self.stack.setCurrentIndex({ENTRY: 0, BUSY: 0, QR: 1, WAITING: 2, RESULT: 3}[mode])
        busy = mode == BUSY
        for b in self.method_buttons.values():
            b.setEnabled(not busy)
        self.enter_button.setEnabled(not busy)
        if mode in (QR, WAITING):
            self._tick.start()
        elif mode != RESULT:
            self._tick.stop()
        self.setFocus()

    def _say(self, text: str) -> None:
        self.message.setText(text)

    # ------------------------------------------------------------------ keys
    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        key = event.key()
        text = event.text()
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
        if self.mode != ENTRY:
            return super().keyPressEvent(event)
        if key == KEY_BACKSPACE:
            self._pad("⌫")
        elif key == KEY_DELETE:
            self._pad("C")
        elif text and (text in ".。" or text.isdigit()):
            self._pad("." if text in ".。" else text)
        else:
            super().keyPressEvent(event)

    def _pad(self, key: str) -> None:
        if self.mode != ENTRY:
            return
        if key == "⌫":
            self.amount.backspace()
        elif key == "C":
            self.amount.clear()
        elif not self.amount.press(key):
            QApplication.beep()
            return
        self._say(self._code_reminder())  # a scanned code's reminder stays until it is paid
        self.amount_label.setText(self.amount.display())

    def escape(self) -> None:
        if self.mode == ENTRY:
            self.amount.clear()
            self.pending_code = self.pending_profile = None
            self.amount_label.setText(self.amount.display())
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
            if self.current is not None and self.current.state == "paid":
                self.new_checkout()
            else:
                self.retry()

    # ------------------------------------------------------------------ actions
    def _parsed_amount(self, profile: str | None = None, quiet: bool = False) -> Decimal | None:
        from cashier.money import AmountError, parse_amount

        profile = profile or self.profile
        try:
            limits = self.engine.gateway(profile).limits if self.engine and profile else None
            if limits is not None:
                return parse_amount(self.amount.text, minimum=limits.min_amount, maximum=limits.max_amount)
            return parse_amount(self.amount.text)
        except AmountError as exc:
            if not quiet:
                self._say(exc.message())
            return None

    def _ready(self) -> bool:
        if self.engine is None:
            self._say(tr("ui.not_ready"))
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
        self.pending_code = None
        self._set_mode(BUSY)
        self._say(tr("ui.creating"))
        from cashier.gateways.base import Method

        engine, profile, sale = self.engine, self.profile, self.sale_id
        self.window.workers.run(lambda: engine.start_qr(profile, amount, Method(method), sale_id=sale),
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
        self._set_mode(BUSY)
        self._say(tr("ui.charging"))
        engine, sale = self.engine, self.sale_id
        self.window.workers.run(lambda: engine.start_micropay(profile, amount, scan.code, sale_id=sale),
                                self._on_started, self._on_start_failed)

    def _code_reminder(self) -> str:
        scan = self.pending_code
        return tr("ui.code_waiting_amount", wallet=wallet_text(scan.wallet.value)) if scan else ""

    def on_scan(self, scan) -> None:
        """A burst from the scanner (the checkout had focus)."""
        if not scan.is_payment_code:
            self._show_scan_message(scan.not_a_payment_code().message())
            return
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
        able = self.window.micropay_profiles()
        if able:
            self._say(tr("ui.no_micropay", name=self.profile, names=tr("ui.list_sep").join(able)))
        else:
            self._say(tr("ui.no_micropay_none", name=self.profile))

    def _show_scan_message(self, text: str) -> None:
        if self.mode == ENTRY:
            self._say(text)
        self.status_message.emit(text)

    def _on_started(self, order) -> None:
        self.current = order
        self.show_order(order)
        self.attention_changed.emit()

    def _on_start_failed(self, exc: BaseException) -> None:
        self._set_mode(ENTRY)
        text = exc.message() if isinstance(exc, UserError) else f"{tr('ui.error_title')}: {exc!r}"
        self._say(text)
        self.attention_changed.emit()

    def cancel(self) -> None:
        order = self.current
        if order is None or self.mode not in (QR, WAITING):
            return
        self.qr_cancel.setEnabled(False)
        self.wait_stop.setEnabled(False)
        engine = self.engine
        self.window.workers.run(lambda: engine.stop_waiting(order.out_trade_no, actor="clerk"),
                                self.on_order, self._on_action_failed)

    def check_current(self) -> None:
        order = self.current
        if order is None:
            return
        engine = self.engine
        self.window.workers.run(lambda: engine.check(order.out_trade_no, actor="clerk"),
                                self.on_order, self._on_action_failed)

    def _on_action_failed(self, exc: BaseException) -> None:
        text = exc.message() if isinstance(exc, UserError) else repr(exc)
        self.status_message.emit(text)
        if self.mode == QR:
            self.qr_status.setText(text)
        elif self.mode == WAITING:
            self.wait_status.setText(text)
        self.qr_cancel.setEnabled(True)
        self.wait_stop.setEnabled(True)

    def back(self) -> None:
        """From a result: back to the amount (same sale unless it was paid)."""
        if self.current is not None and self.current.state == "paid":
            self.new_checkout()
            return
        self.current = None
        self._set_mode(ENTRY)
        self._say("")

    def retry(self) -> None:
        self.current = None
        self._set_mode(ENTRY)
        self._say("")
        if self.last_method in self.methods and (self.last_method is not None):
            self.pay(self.last_method)

    def new_checkout(self) -> None:
        self.current = None
        self.sale_id = self._new_sale()
        self.amount.clear()
        self.pending_code = None
        self.amount_label.setText(self.amount.display())
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
        state = order.state
        if state == "paid":
            self._show_result("success", tr("ui.paid_title"),
                              tr("ui.paid_detail", amount=format_yuan(order.paid_amount or order.amount_to_pay),
                                 wallet=wallet_text(order.wallet),
                                 time=datetime.datetime.fromtimestamp(order.paid_at or order.updated_at)
                                 .strftime("%H:%M:%S")), "")
            self._success_left = SUCCESS_SECONDS
            self.result_next.setText(tr("ui.back_in", s=self._success_left))
            self._tick.start()
            return
        if state == S.CANCELLED:  # the gateway cannot close it: watched quietly
            self._show_result("failure", tr("ui.cancelled_title"), "", tr("ui.cancelled_next"))
            self.result_next.setText(tr("ui.state.cancelled") + "。" + tr("ui.watched_next"))
            return
        if state in ("expired", "closed"):
            reason = order.reason or ""
            if order.method == "micropay":
                self._show_result("failure", tr("ui.cancelled_title"), "", tr("ui.cancelled_next"))
            elif tr("reason.expired") == reason or (order.expires_at and self.engine.now() >= order.expires_at
                                                     and tr("reason.cancelled") != reason):
                self._show_result("failure", tr("ui.expired_title"), "", tr("ui.expired_next"))
            else:
                self._show_result("failure", tr("ui.cancelled_title"), "", tr("ui.cancelled_next"))
            if state == "expired":  # closed here only: still watched for a late payment
                self.result_next.setText(tr("ui.state.expired") + "。" + tr("ui.watched_next"))
            return
        if state == "reversed":
            self._show_result("failure", tr("ui.reversed_title"), "", tr("ui.reversed_next"))
            return
        if state == "failed":
            self._show_result("failure", tr("ui.failed_title"), "",
                              tr("ui.failed_next", reason=(order.reason or tr("ui.state.failed")).rstrip("。.")))
            return
        if state == "needs_check":
            self._show_result("failure", tr("ui.needs_check_title"), "",
                              tr("ui.needs_check_next", reason=(order.reason or "").rstrip("。.")))
            return
        # unresolved
        if order.method == "micropay":
            self._show_waiting(order)
        else:
            self._show_qr(order)

    def _show_qr(self, order) -> None:
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
        wallet = order.method if order.method in ("merged", "wechat", "alipay", "qq") else "merged"
        self.qr_wallet.setText(tr("ui.scan_with." + wallet))
        self.qr_status.setText(tr("ui.state." + order.state))
        self.qr_order.setText(tr("ui.order_no", no=order.out_trade_no))
        self.qr_cancel.setEnabled(order.state not in S.IN_FLIGHT_ORDER_STATES)
        self._update_countdown()
        self._set_mode(QR)

    def _download_image(self, order) -> None:
        url = order.qr_image_url
        self.qr_status.setText(tr("ui.loading_image"))

        def fetch() -> bytes:
            import httpx

            response = httpx.get(url, timeout=10.0, follow_redirects=True)
            response.raise_for_status()
            return response.content

        def done(data: bytes) -> None:
            if self.current is not None and self.current.qr_image_url == url:
                self.qr.set_image(data)
                self.qr_status.setText(tr("ui.state." + self.current.state) + " " + tr("ui.image_only"))

        self.window.workers.run(fetch, done, self._on_action_failed)

    def _show_waiting(self, order) -> None:
        self.wait_amount.setText("¥ " + format_yuan(order.amount))
        self.wait_status.setText(tr("ui.state." + order.state))
        self.wait_stop.setEnabled(order.state != "reversing")
        self._update_countdown()
        self._set_mode(WAITING)

    def _show_result(self, kind: str, title: str, detail: str, next_step: str) -> None:
        order = self.current
        self.result_title.setObjectName(kind)
        self.result_title.setStyleSheet("")  # re-polish for the new object name
        self.result_title.style().unpolish(self.result_title)
        self.result_title.style().polish(self.result_title)
        self.result_title.setText(("✓ " if kind == "success" else "") + title)
        self.result_detail.setText(detail)
        self.result_detail.setVisible(bool(detail))
        self.result_next.setText(next_step)
        self.result_order.setText(tr("ui.order_no", no=order.out_trade_no) if order else "")
        paid = kind == "success"
        self.result_ok.setText(tr("ui.next_checkout") if paid else tr("ui.retry"))
        self.result_back.setVisible(not paid)
        self.result_check.setVisible(order is not None and order.state in S.CHECKABLE_ORDER_STATES)
        self._set_mode(RESULT)
        if not paid:
            self._tick.stop()

    def _update_countdown(self) -> None:
        order = self.current
        if order is None or self.engine is None:
            return
        now = self.engine.now()
        if self.mode == WAITING or order.method == "micropay":
            elapsed = max(0, int(now - order.created_at))
            limit = round((order.expires_at or now) - order.created_at)
            self.wait_detail.setText(tr("ui.waiting_detail", wallet=wallet_text(order.wallet),
                                        last4=order.auth_code_last4 or "", elapsed=elapsed, limit=limit))
            return
        left = max(0, int((order.expires_at or now) - now))
        self.qr_countdown.setText(tr("ui.countdown", m=left // 60, s=left % 60))

    def _on_tick(self) -> None:
        if self.mode == RESULT:
            if self.current is not None and self.current.state == "paid":
                self._success_left -= 1
                if self._success_left <= 0:
                    self.new_checkout()
                else:
                    self.result_next.setText(tr("ui.back_in", s=self._success_left))
            return
        self._update_countdown()
