"""The customer display on its own: what the customer sees for each checkout state."""

from __future__ import annotations

from decimal import Decimal

from cashier.ui import customer_display as cd
from cashier.ui.qr import qr_matrix


def test_pick_screen_needs_a_second_screen():
    a, b, c = object(), object(), object()
    assert cd.pick_screen([a], a) is None
    assert cd.pick_screen([a, b], a) is b
    assert cd.pick_screen([a, b, c], a, choice=2) is c
    assert cd.pick_screen([a, b], a, choice=0) is b  # never the clerk's own screen


def test_follows_the_checkout(qtbot):
    display = cd.CustomerDisplay(shop="好又多便利店", slogan="天天低价", result_seconds=0.2)
    qtbot.addWidget(display)
    display.resize(800, 600)
    display.show()
    qtbot.waitExposed(display)
    assert display.state == cd.IDLE and display.shop.text() == "好又多便利店"

    display.follow(cd.AMOUNT, Decimal("12.50"))
    assert display.amount.text() == "应付 ¥12.50"

    payload = "weixin://wxpay/bizpayurl?pr=abc123"
    display.follow(cd.QR, Decimal("12.50"), payload=payload, wallet="wechat")
    assert display.prompt.text() == "请用微信扫码付款"
    qtbot.waitUntil(lambda: display.qr.module_px > 0)
    assert display.qr.grid() == qr_matrix(payload)  # on screen: the very code the clerk shows

    display.follow(cd.SCAN, Decimal("12.50"))
    assert display.prompt.text() == "请出示付款码" and not display.qr.isVisible()

    display.follow(cd.PAID, Decimal("12.50"))
    assert display.prompt.text() == "支付成功，谢谢惠顾"
    qtbot.waitUntil(lambda: display.state == cd.IDLE, timeout=5000)
