"""First run with no merchant profile: try demo mode, or add a profile."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from cashier.i18n import define, tr

define({
    "ui.first.title": ("欢迎使用收银台", "Welcome to the cashier"),
    "ui.first.text": ("还没有配置商户。可以先用演示模式试一试所有收款流程（内置模拟网关，不会真实扣款），"
                      "或者添加您在支付服务商处开通的商户配置。",
                      "No merchant is set up yet. Try every payment flow in demo mode (a built-in simulated "
                      "gateway, no real money), or add the merchant profile your payment provider gave you."),
    "ui.first.demo": ("试用演示模式", "Try demo mode"),
    "ui.first.add": ("添加商户配置", "Add a merchant profile"),
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
        row = QHBoxLayout()
        self.demo_button = QPushButton(tr("ui.first.demo"))
        self.demo_button.setObjectName("primary")
        self.demo_button.setProperty("tall", True)
        self.demo_button.clicked.connect(window.start_demo)
        self.add_button = QPushButton(tr("ui.first.add"))
        self.add_button.setProperty("tall", True)
        self.add_button.clicked.connect(window.add_first_profile)
        row.addWidget(self.demo_button)
        row.addWidget(self.add_button)
        layout.addLayout(row)
        h = QHBoxLayout()
        h.addStretch(1)
        h.addWidget(card, 3)
        h.addStretch(1)
        outer.addLayout(h)
        outer.addStretch(2)
