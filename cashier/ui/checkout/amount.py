"""The amount panel: the typed amount, the active merchant profile with its
switcher, the payment buttons (F1–F4), the keypad, the message line."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget,
)

from cashier.i18n import tr
from cashier.ui.widgets import keyed

METHODS = ("merged", "wechat", "alipay", "qq")
METHOD_KEYS = {"merged": "F1", "wechat": "F2", "alipay": "F3", "qq": "F4"}
MAX_DIGITS = 8  # before the decimal point
SWITCH_KEY = "F6"


def label(name: str, text: str = "", *, wrap: bool = False, align=Qt.AlignmentFlag.AlignCenter) -> QLabel:
    widget = QLabel(text)
    widget.setObjectName(name)
    widget.setAlignment(align)
    widget.setWordWrap(wrap)
    return widget


class AmountEntry:
    """The typed amount as text, edited one key at a time (no float, no parsing here).
    `refusal` names why the last refused key was refused (a message key, params)."""

    def __init__(self) -> None:
        self.text = ""
        self.refusal: tuple[str, dict] | None = None

    def press(self, ch: str) -> bool:
        t = self.text
        self.refusal = None
        if ch == ".":
            if "." in t:
                self.refusal = ("ui.key.point", {})
                return False
            self.text = (t or "0") + "."
            return True
        if not ch.isdigit() or not ch.isascii():
            self.refusal = ("ui.key.not_amount", {})
            return False
        if "." in t:
            if len(t.split(".")[1]) >= 2:
                self.refusal = ("ui.key.decimals", {})
                return False
        elif len(t.lstrip("0")) >= MAX_DIGITS:
            self.refusal = ("ui.key.digits", {"n": MAX_DIGITS})
            return False
        self.text = ch if t == "0" else t + ch
        return True

    def backspace(self) -> None:
        self.text = self.text[:-1]

    def clear(self) -> None:
        self.text = ""

    def display(self) -> str:
        return "¥ " + (self.text or "0")


class AmountPanel(QWidget):
    """Widgets only; the page decides what they say and do."""

    def __init__(self, page) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        left = QVBoxLayout()
        top = QHBoxLayout()
        self.caption = label("amountCaption", tr("ui.amount_caption"), align=Qt.AlignmentFlag.AlignLeft)
        self.profile_label = label("profileName", "", wrap=True,
                                   align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.switch_button = QPushButton()
        self.switch_button.setObjectName("switch")
        self.switch_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        keyed(self.switch_button, tr("ui.profile_switch"), SWITCH_KEY)
        self.switch_button.clicked.connect(page.choose_profile)
        self.switch_button.hide()  # shown once there are profiles to switch between
        top.addWidget(self.profile_label, 1)
        top.addWidget(self.switch_button)
        left.addLayout(top)
        left.addWidget(self.caption)
        self.amount_label = label("amount", "¥ 0", align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.message = label("message", "", wrap=True, align=Qt.AlignmentFlag.AlignLeft)
        left.addWidget(self.amount_label)
        left.addWidget(self.message)
        self.method_row = QGridLayout()
        self.method_buttons: dict[str, QPushButton] = {}
        for index, method in enumerate(METHODS):
            button = QPushButton(f"{METHOD_KEYS[method]}  {tr('ui.method.' + method)}")
            button.setObjectName("method")
            button.setProperty("wallet", method)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _=False, m=method: page.pay(m))
            button.hide()
            self.method_buttons[method] = button
            self.method_row.addWidget(button, index // 2, index % 2)
        left.addLayout(self.method_row)
        self.hint = label("hint", tr("ui.not_ready"), wrap=True, align=Qt.AlignmentFlag.AlignLeft)
        left.addWidget(self.hint)
        left.addStretch(1)
        layout.addLayout(left, 3)

        pad = QGridLayout()
        pad.setSpacing(10)
        keys = [("7", 0, 0), ("8", 0, 1), ("9", 0, 2), ("4", 1, 0), ("5", 1, 1), ("6", 1, 2),
                ("1", 2, 0), ("2", 2, 1), ("3", 2, 2), ("0", 3, 0), (".", 3, 1), ("⌫", 3, 2)]
        self.keypad: dict[str, QPushButton] = {}
        for text, row, col in keys:
            self.keypad[text] = self._key(text, page)
            pad.addWidget(self.keypad[text], row, col)
        self.keypad["C"] = self._key("C", page)
        pad.addWidget(self.keypad["C"], 4, 0)
        self.enter_button = QPushButton("Enter ⏎")
        self.enter_button.setObjectName("primary")
        self.enter_button.setProperty("enter", True)
        self.enter_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.enter_button.clicked.connect(page.enter)
        pad.addWidget(self.enter_button, 4, 1, 1, 2)
        holder = QFrame()
        holder.setObjectName("card")
        holder.setLayout(pad)
        layout.addWidget(holder, 2)

    @staticmethod
    def _key(text: str, page) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName("key")
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(lambda _=False, t=text: page._pad(t))
        return button
