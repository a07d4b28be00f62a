"""The customer display (客显/副屏): a window facing the customer on a second screen.

It shows what the customer needs and nothing else: the amount, the QR to scan while
waiting (the very matrix of the clerk's QR), "请出示付款码" for a payment code, the
result, and the shop's name and slogan when idle. It follows the checkout through
`follow()`, which takes the same (screen, amount, payload) the clerk's screen shows.
With one screen, or the setting off, no window is made at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QLabel, QStackedLayout, QVBoxLayout, QWidget

from cashier.i18n import define, tr
from cashier.money import format_yuan
from cashier.ui.qr import QrWidget

define({
    "display.welcome": ("欢迎光临", "Welcome"),
    "display.scan_qr": ("请用微信或支付宝扫码付款", "Scan with WeChat or Alipay to pay"),
    "display.scan_qr.wechat": ("请用微信扫码付款", "Scan with WeChat to pay"),
    "display.scan_qr.alipay": ("请用支付宝扫码付款", "Scan with Alipay to pay"),
    "display.scan_qr.qq": ("请用QQ扫码付款", "Scan with QQ to pay"),
    "display.show_code": ("请出示付款码", "Please show your payment code"),
    "display.confirm": ("请在手机上确认付款", "Please confirm the payment on your phone"),
    "display.paid": ("支付成功，谢谢惠顾", "Payment successful, thank you"),
    "display.not_paid": ("未完成付款", "Payment not completed"),
    "display.amount": ("应付 ¥{amount}", "To pay ¥{amount}"),
    "display.paid_amount": ("已付 ¥{amount}", "Paid ¥{amount}"),
})

# What the checkout can be showing, as far as the customer is concerned.
IDLE, AMOUNT, QR, SCAN, CONFIRM, PAID, NOT_PAID = "idle", "amount", "qr", "scan", "confirm", "paid", "not_paid"
RESULT_SECONDS = 8  # a result stays this long, then the idle screen returns


@dataclass(frozen=True)
class View:
    """What the checkout shows, as far as the customer is concerned."""

    state: str
    amount: Decimal | None = None
    payload: str | None = None
    image: bytes | None = None
    wallet: str | None = None


def pick_screen(screens: list[QScreen], clerk: QScreen | None, choice: int = -1) -> QScreen | None:
    """The screen for the customer: the chosen one (index), or the first that is not the
    clerk's. None with one screen: then there is no customer display."""
    if len(screens) < 2:
        return None
    if 0 <= choice < len(screens) and screens[choice] is not clerk:
        return screens[choice]
    for screen in screens:
        if screen is not clerk:
            return screen
    return None


class CustomerDisplay(QWidget):
    def __init__(self, *, shop: str = "", slogan: str = "", result_seconds: float = RESULT_SECONDS,
                 parent: QWidget | None = None) -> None:
        # WindowDoesNotAcceptFocus: without a window manager (a kiosk), a full-screen
        # window would otherwise take the keyboard, and the clerk's typing with it.
        super().__init__(parent, Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint
                         | Qt.WindowType.WindowDoesNotAcceptFocus)
        self.setObjectName("customerDisplay")
        self.setWindowTitle(tr("display.welcome"))
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the customer's screen never takes the clerk's keys
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self._style_for(600)
        self.state = IDLE
        self._result_ms = int(result_seconds * 1000)
        self._stack = QStackedLayout(self)

        # Idle: the shop's name and slogan.
        idle = QWidget()
        lay = QVBoxLayout(idle)
        self.shop = QLabel(shop or tr("display.welcome"))
        self.slogan = QLabel(slogan)
        self.shop.setObjectName("cdShop")
        self.slogan.setObjectName("cdSlogan")
        for label in (self.shop, self.slogan):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
        lay.addStretch(1)
        lay.addWidget(self.shop)
        lay.addWidget(self.slogan)
        lay.addStretch(1)
        self._stack.addWidget(idle)

        # Busy: the amount, big, above the QR or the prompt.
        busy = QWidget()
        lay = QVBoxLayout(busy)
        self.amount = QLabel()
        self.prompt = QLabel()
        self.qr = QrWidget()
        self.qr.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.amount.setObjectName("cdAmount")
        self.prompt.setObjectName("cdPrompt")
        for label in (self.amount, self.prompt):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
        lay.addStretch(1)
        lay.addWidget(self.amount)
        lay.addWidget(self.qr, 8)
        lay.addWidget(self.prompt)
        lay.addStretch(1)
        self._stack.addWidget(busy)

        self._back_to_idle = QTimer(self)
        self._back_to_idle.setSingleShot(True)
        self._back_to_idle.timeout.connect(self.show_idle)

    def _style_for(self, height: int) -> None:
        """Sizes follow the customer's screen: read from a step back from the counter."""
        unit = max(12, height // 24)
        self.setStyleSheet(
            "#customerDisplay { background: white; }"
            "#customerDisplay QLabel { color: #1a1a1a; background: transparent; }"
            f"#cdShop {{ font-size: {unit * 2}px; font-weight: bold; }}"
            f"#cdSlogan {{ font-size: {unit}px; color: #555; }}"
            f"#cdAmount {{ font-size: {int(unit * 2.2)}px; font-weight: bold; }}"
            f"#cdPrompt {{ font-size: {int(unit * 1.2)}px; }}")

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._style_for(event.size().height())
        super().resizeEvent(event)

    # ------------------------------------------------------------------ screens
    def show_idle(self) -> None:
        self.state = IDLE
        self._back_to_idle.stop()
        self.qr.clear()
        self._stack.setCurrentIndex(0)

    def _busy(self, state: str, amount: Decimal | None, prompt: str, payload: str | None = None,
              image: bytes | None = None) -> None:
        self.state = state
        self._back_to_idle.stop()
        key = "display.paid_amount" if state == PAID else "display.amount"
        self.amount.setText(tr(key, amount=format_yuan(amount)) if amount is not None else "")
        self.prompt.setText(prompt)
        if image is not None:
            self.qr.set_image(image)
        else:
            self.qr.set_payload(payload)
        self.qr.setVisible(bool(payload) or image is not None)
        self._stack.setCurrentIndex(1)

    def follow(self, state: str, amount: Decimal | None = None, *, payload: str | None = None,
               image: bytes | None = None, wallet: str | None = None) -> None:
        """Show what the checkout shows, in the customer's words."""
        if state == IDLE or (state == AMOUNT and not amount):
            self.show_idle()
        elif state == AMOUNT:
            self._busy(AMOUNT, amount, "")
        elif state == QR:
            key = f"display.scan_qr.{wallet}" if wallet in ("wechat", "alipay", "qq") else "display.scan_qr"
            self._busy(QR, amount, tr(key), payload=payload, image=image)
        elif state == SCAN:
            self._busy(SCAN, amount, tr("display.show_code"))
        elif state == CONFIRM:
            self._busy(CONFIRM, amount, tr("display.confirm"))
        elif state in (PAID, NOT_PAID):
            self._busy(state, amount, tr("display.paid" if state == PAID else "display.not_paid"))
            self._back_to_idle.start(self._result_ms)

    def show_view(self, view: View) -> None:
        self.follow(view.state, view.amount, payload=view.payload, image=view.image, wallet=view.wallet)

    def place_on(self, screen: QScreen) -> None:
        """Cover `screen`: a frameless window of the screen's size, shown without
        taking the keyboard (showFullScreen would ask to be activated)."""
        self.setScreen(screen)
        self.setGeometry(screen.geometry())
        self.show()


def open_customer_display(settings, clerk_window: QWidget) -> CustomerDisplay | None:
    """The customer display on the second screen, or None (one screen, or turned off)."""
    if not settings.customer_display:
        return None
    screens = QGuiApplication.screens()
    screen = pick_screen(screens, clerk_window.screen(), settings.customer_display_screen)
    if screen is None:
        return None
    display = CustomerDisplay(shop=settings.shop_name, slogan=settings.customer_display_slogan)
    display.place_on(screen)
    clerk_window.activateWindow()  # the keyboard stays with the clerk
    return display
