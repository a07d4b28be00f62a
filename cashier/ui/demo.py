"""Demo mode's "customer": makes the simulated customer pay the shown QR, or decides
what happens to the next scanned payment code (pay, password after N s, never,
decline). Ctrl+Shift+P = "customer pays the shown order"."""

from __future__ import annotations

import secrets

from PySide6.QtWidgets import QComboBox, QFrame, QLabel, QPushButton, QSizePolicy, QSpinBox, QVBoxLayout

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from cashier.i18n import define, tr
from cashier.ui.checkout.texts import error_text
from cashier.scanner import Scan, classify_payment_code

define({
    "ui.demo.title": ("演示·顾客", "Demo customer"),
    "ui.demo.pay": ("顾客扫码付款\nCtrl+Shift+P", "Customer pays\nCtrl+Shift+P"),
    "ui.demo.scan": ("出示付款码\nCtrl+Shift+S", "Show payment code\nCtrl+Shift+S"),
    "ui.demo.kind.pay": ("立即付款", "pays at once"),
    "ui.demo.kind.password": ("输密码后付款", "pays after password"),
    "ui.demo.kind.never": ("一直不付款", "never pays"),
    "ui.demo.kind.decline": ("余额不足", "declined"),
    "ui.demo.password_in": ("输密码用 ", "password in "),
    "ui.demo.seconds": (" 秒", " s"),
    "ui.demo.nothing": ("没有等待付款的二维码", "No QR is waiting to be paid"),
    "ui.demo.paid": ("演示顾客已付款", "The demo customer paid"),
})

KINDS = ("pay", "password", "never", "decline")


def demo_code(wallet: str = "wechat") -> str:
    if wallet == "alipay":
        return "28" + "".join(secrets.choice("0123456789") for _ in range(16))
    return "13" + "".join(secrets.choice("0123456789") for _ in range(16))


class CustomerPanel(QFrame):
    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.setObjectName("customer")
        layout = QVBoxLayout(self)
        title = QLabel(tr("ui.demo.title"))
        title.setObjectName("hint")
        layout.addWidget(title)
        self.pay_button = QPushButton(tr("ui.demo.pay"))
        self.pay_button.clicked.connect(self.pay_shown)
        layout.addWidget(self.pay_button)
        self.kind = QComboBox()
        for kind in KINDS:
            self.kind.addItem(tr("ui.demo.kind." + kind), kind)
        layout.addWidget(self.kind)
        self.seconds = QSpinBox()
        self.seconds.setRange(1, 120)
        self.seconds.setValue(8)
        # Says what the number is ("输密码用 8 秒"), in the window's language; it only
        # matters when the customer pays after a password.
        self.seconds.setPrefix(tr("ui.demo.password_in"))
        self.seconds.setSuffix(tr("ui.demo.seconds"))
        # As wide as the panel's buttons, never wider: its text must not widen the page list.
        self.seconds.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        layout.addWidget(self.seconds)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()
        self.scan_button = QPushButton(tr("ui.demo.scan"))
        self.scan_button.clicked.connect(self.show_code)
        layout.addWidget(self.scan_button)
        self.scan_button.setShortcut(QKeySequence("Ctrl+Shift+S"))
        # Out of the checkout's Tab chain: a digit typed on the checkout never lands here.
        for w in (self.pay_button, self.kind, self.seconds, self.scan_button):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def _kind_changed(self) -> None:
        self.seconds.setEnabled(self.kind.currentData() == "password")

    def pay_shown(self) -> None:
        order = self.window.checkout.current
        sim = self.window.ctx.sim_client if self.window.ctx else None
        if sim is None or order is None or order.method == "micropay" or order.state != "pending":
            self.window.flash(tr("ui.demo.nothing"))
            return
        counter = self.window.counter
        self.window.workers.run(lambda: counter.demo_customer_pays(order), lambda _: self.window.flash(tr("ui.demo.paid")),
                                lambda exc: self.window.flash(error_text(exc)))

    def show_code(self) -> None:
        """The customer holds out a payment code; the clerk 'scans' it."""
        counter = self.window.counter
        kind = self.kind.currentData()
        seconds = float(self.seconds.value())
        code = demo_code()

        def arm():
            counter.demo_next_code(kind, seconds, code)

        def scan(_):
            self.window.checkout.on_scan(Scan(code, code, classify_payment_code(code)))

        self.window.workers.run(arm, scan, lambda exc: self.window.flash(error_text(exc)))
