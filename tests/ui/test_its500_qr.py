"""An its500 (站长付) Alipay sale in the real window: the QR on screen is the
`zfbuseridcode` link the gateway gave (the customer's Alipay opens with the amount
filled in), and the amount to pay is still shown big.

The decode test needs zbarimg (Debian package zbar-tools)."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt

from cashier.ui.qr import qr_matrix
from tests.ui.conftest import ITS500


def _alipay_sale(counter, qtbot):
    co = counter.checkout
    counter.window.set_profile(ITS500)
    counter.type_human("10")
    with qtbot.waitSignal(co.qr.painted, timeout=10000):
        counter.key(Qt.Key.Key_F3)
    counter.wait_mode("qr")
    order = counter.engine.order(co.current.out_trade_no)
    assert order.method == "alipay" and order.state == "pending"
    answer = counter.ctx.sim.gateways["its500"].answers[order.gateway_trade_no]
    return co, order, answer["zfbuseridcode"]


def test_its500_alipay_qr_is_the_zfbuseridcode_link(counter, qtbot):
    co, order, link = _alipay_sale(counter, qtbot)
    assert "zfbuserid=" in link and link.endswith("&price=" + format(order.amount_to_pay, "f"))
    # the painted pixels, read back module by module, are the matrix of that link
    assert co.qr.payload == link == order.qr
    assert co.qr.grid() == qr_matrix(link)
    # the amount to pay (discounted below 10.00) is still what is shown big
    assert Decimal("9.01") <= order.amount_to_pay <= Decimal("9.99")
    assert co.qr_amount.text() == "¥ " + format(order.amount_to_pay, "f")
    assert co.qr_original.isVisible() and "10.00" in co.qr_original.text()
    counter.sim.pay("its500", order.gateway_trade_no)
    counter.run(3)
    counter.wait_state("paid")
    assert "收款成功" in co.result_title.text()


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="needs zbarimg (Debian package zbar-tools)")
def test_its500_alipay_qr_decodes_to_the_link(counter, qtbot, tmp_path):
    co, order, link = _alipay_sale(counter, qtbot)
    shot = tmp_path / "qr.png"
    assert co.qr.grab().save(str(shot), "PNG")
    decoded = subprocess.run(["zbarimg", "--quiet", "--raw", str(shot)], capture_output=True, text=True,
                             timeout=60)
    assert decoded.returncode == 0, decoded.stderr
    assert decoded.stdout.strip() == link
