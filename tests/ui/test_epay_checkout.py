"""The checkout window against the simulated epay (彩虹易支付) site in its real answer
forms: a payment code the site charged (answered "code 1 + payurl") is shown as being
checked, then paid, never as failed; a frozen order is shown paid with a warning that
stays up."""

from __future__ import annotations

from tests.ui.conftest import counter  # noqa: F401  (the fixture)

EPAY = "演示·易支付"
WECHAT_CODE = "134567890123450077"
ALIPAY_CODE = "2812345678900077"


def test_v1_code_1_payurl_shows_waiting_then_paid_never_failed(counter):  # noqa: F811
    co = counter.checkout
    site = counter.ctx.sim.gateways["epay"]
    site.scan_reply, site.paid_status_lag = "echojson", 12.0  # Alipay: paid once its notice arrives
    counter.window.set_profile(EPAY)
    counter.type_human("5.60")
    counter.scan(ALIPAY_CODE)
    counter.wait_mode("waiting")
    assert co.current.state == "unknown"
    assert "失败" not in co.message.text()
    counter.run(6)
    assert co.mode == "waiting"  # the site still shows status 0
    counter.run(7)
    counter.wait_state("paid")
    assert co.mode == "result" and "5.60" in co.result_detail.text()
    order = counter.engine.order(co.current.out_trade_no)
    assert order.state == "paid" and order.method == "micropay"
    assert "failed" not in [e.new_state for e in counter.engine.ledger.events(order.out_trade_no)]


def test_type_missing_page_says_nothing_charged_use_a_qr(counter):  # noqa: F811
    co = counter.checkout
    counter.ctx.sim.gateways["epay"].disabled_types.add("wxpay")
    counter.window.set_profile(EPAY)
    counter.type_human("3")
    counter.scan(WECHAT_CODE)
    counter.qtbot.waitUntil(lambda: "支付方式(type)不存在" in co.message.text(), timeout=10000)
    assert "扫码" in co.message.text() and co.mode == "entry"  # the clerk can offer a QR at once
    (order,) = counter.engine.ledger.orders_for_sale(co.sale_id)
    assert order.state == "failed"
    assert all(o["charged"] == 0 for o in counter.sim.orders("epay"))


def test_frozen_order_is_paid_with_a_warning_that_stays(counter):  # noqa: F811
    from PySide6.QtCore import Qt

    co = counter.checkout
    counter.window.set_profile(EPAY)
    counter.type_human("9")
    counter.key(Qt.Key.Key_F1)  # F1: the first QR method
    counter.wait_mode("qr")
    no = co.current.out_trade_no
    counter.sim.pay_order(counter.engine.order(no))  # the phone opens the 一码付 page and pays
    counter.ctx.sim.gateways["epay"].frozen.add(no)
    counter.run(5)
    counter.wait_state("paid")
    assert "冻结" in co.result_next.text()
    counter.run(10)  # no "back in 5 s": the warning stays
    assert co.mode == "result" and "冻结" in co.result_next.text()
