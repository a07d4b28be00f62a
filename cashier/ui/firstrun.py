"""First run with no merchant profile: set the manager PIN, then try demo mode or add a profile."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from cashier.i18n import define, tr
from cashier.ui.widgets import keyed

define({
    "ui.first.title": ("欢迎使用收银台", "Welcome to the cashier"),
    "ui.first.text": ("还没有配置商户。可以先用演示模式试一试所有收款流程（内置模拟网关，不会真实扣款），"
                      "或者添加您在支付服务商处开通的商户配置。",
                      "No merchant is set up yet. Try every payment flow in demo mode (a built-in simulated "
                      "gateway, no real money), or add the merchant profile your payment provider gave you."),
    "ui.first.demo": ("试用演示模式", "Try demo mode"),
    "ui.first.add": ("添加商户配置", "Add a merchant profile"),
    "ui.first.pin": ("店长密码（退款时需要，只有店长知道；演示模式可以以后再设）",
                     "Manager PIN (refunds need it; only the manager knows it; demo mode can set it later)"),
    "ui.first.pin_set": ("店长密码已设置。", "The manager PIN is set."),
})


class FirstRunPage(QWidget):
    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        card = QFrame()
        card.setObjectName("card")
        card.setMaximumWidth(900)
        layout = QVBoxLayout(card)
        layout.setContentsMargins(40, 40, 40, 40)
        title = QLabel(tr("ui.first.title"))
        title.setObjectName("bigTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title.setWordWrap(True)
        text = QLabel(tr("ui.first.text"))
        text.setWordWrap(True)
        layout.addWidget(title)
        layout.addWidget(text)
        from cashier.settings import SettingsStore
        from cashier.ui.pin import PinFields

        has_pin = SettingsStore().load_or_default()[0].has_pin
        pin_text = QLabel(tr("ui.first.pin_set") if has_pin else tr("ui.first.pin"))
        pin_text.setWordWrap(True)
        layout.addWidget(pin_text)
        self.pin = PinFields(self, compact=True)
        self.pin.setVisible(not has_pin)
        layout.addWidget(self.pin)
        self.error = QLabel("")
        self.error.setObjectName("message")
        self.error.setWordWrap(True)
        self.error.hide()  # shown with a reason
        layout.addWidget(self.error)
        row = QHBoxLayout()
        self.demo_button = QPushButton(tr("ui.first.demo"))
        self.demo_button.setObjectName("primary")
        self.demo_button.setProperty("tall", True)
        self.demo_button.clicked.connect(self.try_demo)
        self.add_button = QPushButton(tr("ui.first.add"))
        self.add_button.setProperty("tall", True)
        self.add_button.clicked.connect(self.add_profile)
        keyed(self.demo_button, tr("ui.first.demo"), "Ctrl+D", below=True)
        keyed(self.add_button, tr("ui.first.add"), "Ctrl+N", below=True)
        row.addWidget(self.demo_button)
        row.addWidget(self.add_button)
        layout.addLayout(row)
        h = QHBoxLayout()
        h.addStretch(1)
        h.addWidget(card, 3)
        h.addStretch(1)
        outer.addLayout(h)
        outer.addStretch(2)

    def _save_pin(self, *, required: bool) -> bool:
        """Save the PIN typed here; False (with the reason shown) when it cannot be."""
        from cashier.i18n import UserError

        if self.pin.isHidden() or (self.pin.is_empty() and not required):
            return True
        if self.pin.is_empty():
            self._say(tr("ui.pin.missing"))
            self.pin.pin1.setFocus()
            return False
        try:
            self.pin.save()
        except UserError as exc:
            self._say(exc.message())
            self.pin.pin1.setFocus()
            return False
        self.pin.hide()
        return True

    def _say(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def try_demo(self) -> None:
        if self._save_pin(required=False):
            self.window.start_demo()

    def add_profile(self) -> None:
        if self._save_pin(required=True):
            self.window.add_first_profile()
