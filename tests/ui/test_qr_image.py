"""A gateway that gives only a picture of the code (its500's WeChat personal code):
the window shows the picture, fetched off the GUI thread through the gateway's HTTP
layer (engine.qr_image -> Gateway.fetch_qr_image), never by the UI itself."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt

from tests.ui.conftest import ITS500


def test_its500_wechat_shows_the_fetched_picture(counter, qtbot):
    co = counter.checkout
    counter.window.set_profile(ITS500)
    counter.type_human("10")
    counter.key(Qt.Key.Key_F2)
    counter.wait_mode("qr")
    order = counter.engine.order(co.current.out_trade_no)
    assert order.method == "wechat" and not order.qr and order.qr_image_url
    qtbot.waitUntil(lambda: co.qr.image is not None, timeout=10000)
    fetched = counter.engine.qr_image(order.out_trade_no)
    assert fetched.startswith(b"\x89PNG")
    assert co.qr.image.width() > 0 and co.qr.payload is None


def test_the_ui_never_opens_a_connection_itself():
    ui = Path(__file__).resolve().parents[2] / "cashier" / "ui"
    offenders = [f"{p.name}:{n}" for p in ui.rglob("*.py")
                 for n, line in enumerate(p.read_text("utf-8").splitlines(), 1)
                 if re.search(r"^\s*(import|from)\s+(httpx|httpcore|requests|urllib\.request|socket)\b", line)]
    assert not offenders, offenders
