"""The QR, waiting and result panels: widgets only, filled from a presenter
`Screen` by the page. Built after the first frame."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPushButton, QVBoxLayout

from cashier.i18n import tr
from cashier.ui.checkout.amount import label
from cashier.ui.widgets import keyed

CHECK_KEY = "F5"


def _button(text: str, page_action, *, name: str = "", key: str | None = None) -> QPushButton:
    button = QPushButton()
    if name:
        button.setObjectName(name)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    if key is None:
        button.setText(text)
    elif key in ("Esc", "Enter"):  # the page's own keys (it has the focus): shown, not bound twice
        button.setText(f"{text}  {key}")
    else:
        keyed(button, text, key)
    button.clicked.connect(page_action)
    return button


class QrPanel(QFrame):
    def __init__(self, page) -> None:
        super().__init__()
        from cashier.ui.qr import QrWidget

        self.setObjectName("card")
        layout = QHBoxLayout(self)
        self.qr = QrWidget()
        layout.addWidget(self.qr, 3)
        side = QVBoxLayout()
        self.caption = label("amountCaption", tr("ui.pay_amount"))
        self.amount = label("payAmount")
        self.original = label("original", wrap=True)
        self.wallet = label("wallet", wrap=True)
        self.countdown = label("countdown", wrap=True)  # "time is up, checking once more" takes two lines
        self.status = label("status", wrap=True)
        self.order = label("hint", wrap=True)
        for w in (self.caption, self.amount, self.original, self.wallet, self.countdown, self.status, self.order):
            side.addWidget(w)
        side.addStretch(1)
        buttons = QHBoxLayout()
        self.check = _button(tr("ui.check"), page.check_current, key=CHECK_KEY)
        self.cancel = _button(tr("ui.cancel"), page.cancel, name="danger", key="Esc")
        buttons.addWidget(self.check)
        buttons.addWidget(self.cancel)
        side.addLayout(buttons)
        layout.addLayout(side, 2)


class WaitingPanel(QFrame):
    def __init__(self, page) -> None:
        super().__init__()
        self.setObjectName("card")
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        self.title = label("bigTitle", tr("ui.waiting_title"), wrap=True)
        self.amount = label("payAmount")
        self.detail = label("hint", wrap=True)
        self.status = label("status", wrap=True)
        for w in (self.title, self.amount, self.detail, self.status):
            layout.addWidget(w)
        layout.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.check = _button(tr("ui.check"), page.check_current, key=CHECK_KEY)
        self.stop = _button(tr("ui.stop_waiting"), page.cancel, name="danger", key="Esc")
        buttons.addWidget(self.check)
        buttons.addWidget(self.stop)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addStretch(1)


class ResultPanel(QFrame):
    def __init__(self, page) -> None:
        super().__init__()
        self.setObjectName("card")
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        self.title = label("success", wrap=True)
        self.detail = label("wallet", wrap=True)
        self.next_step = label("hint", wrap=True)
        self.status = label("status", wrap=True)  # what the clerk's 查单 found
        self.status.hide()
        self.order = label("hint", wrap=True)
        for w in (self.title, self.detail, self.next_step, self.status, self.order):
            layout.addWidget(w)
        layout.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.check = _button(tr("ui.check"), page.check_current, key=CHECK_KEY)
        self.back = _button(tr("ui.back"), page.back, key="Esc")
        self.ok = _button(tr("ui.next_checkout"), page.enter, name="primary", key="Enter")
        for b in (self.check, self.back, self.ok):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addStretch(1)

    def set_kind(self, kind: str) -> None:
        self.title.setObjectName(kind)
        self.title.style().unpolish(self.title)
        self.title.style().polish(self.title)
