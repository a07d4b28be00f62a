"""One truth per screen (issue 7): what the checkout says after 查单 (F5) while the
gateway's one query slot is busy, and on an its500 QR that came as a picture only.
The real window, the demo simulator over HTTP, the engine on a fake clock."""

from __future__ import annotations

import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.ui.conftest import ITS500, close_counter, open_counter
from tests.ui.words_check import visible_texts


def _hms(at: float) -> str:
    return datetime.datetime.fromtimestamp(at).strftime("%H:%M:%S")


def _qr(counter, amount: str = "12.00", key=Qt.Key.Key_F1):
    counter.type_human(amount)
    counter.key(key)
    counter.wait_mode("qr")
    return counter.checkout.current


def _f5(counter) -> None:
    """F5 as the keyboard sends it: the 查单 button's shortcut (Qt animates the click)."""
    co = counter.checkout
    button = {"qr": co.qr_check, "waiting": co.wait_check, "result": co.result_check}[co.mode]
    with counter.qtbot.waitSignal(button.clicked, timeout=5000):
        counter.key(Qt.Key.Key_F5)
    counter.idle()
    QApplication.processEvents()


def _everywhere(counter) -> str:
    return "\n".join(visible_texts(counter.window))


def _queries(counter) -> int:
    """Order queries the simulator's LTZF has been sent."""
    return sum(1 for r in counter.ctx.sim.state.requests if r.get("gateway") == "ltzf" and r.get("op") == "query")


def _engine_query(counter, seconds: float) -> float:
    """Let `seconds` pass; the engine's scheduler sends one query then: its time."""
    before = _queries(counter)
    counter.run(seconds)
    assert _queries(counter) == before + 1
    return counter.clock.now()


def test_f5_right_after_the_engines_own_query_says_when_it_was_checked(counter):
    """LTZF allows one order query per 5 s and the engine's scheduled query just took
    it: F5 is answered with that query (its time, not paid yet), never 'too often';
    and the words stay on the checkout when the clerk goes to another page."""
    co = counter.checkout
    _qr(counter)
    asked_at = _engine_query(counter, 5)  # the engine's first scheduled query of the QR: the slot is taken
    counter.run(1)
    _f5(counter)
    status = co.qr_status.text()
    assert "频繁" not in status and "再查" not in status
    assert f"{_hms(asked_at)} 已查单：顾客还没有付款" in status
    assert "等待顾客扫码付款" in status  # the state is still said first
    assert counter.window.status_note.text() == ""
    counter.window.show_page("history")
    QApplication.processEvents()
    shown = _everywhere(counter)
    assert "查单" not in counter.window.status_note.text()
    assert "已查单" not in shown and "频繁" not in shown
    counter.window.show_page("checkout")
    assert co.mode == "qr" and "已查单" in co.qr_status.text()


def test_f5_while_another_order_holds_the_slot_is_queued_then_answered(counter):
    """The slot went to a cancelled QR still watched for a late payment: F5 on the
    new QR is queued for the next slot (its time said), asked first there, and the
    answer replaces the 'checking' words on the same screen."""
    co = counter.checkout
    _qr(counter, "3.00")
    counter.key(Qt.Key.Key_Escape)  # cancelled: LTZF cannot close it, it is watched (next ask in 15 s)
    counter.wait_mode("result")
    counter.key(Qt.Key.Key_Escape)
    counter.run(14)
    _qr(counter, "8.00")
    _engine_query(counter, 1)  # the watched one's turn: the new QR is not due yet
    counter.run(1)
    _f5(counter)
    due = counter.clock.now() + 4
    assert f"正在查单：{_hms(due)} 向支付网关查询" in co.qr_status.text()
    assert "频繁" not in co.qr_status.text() and counter.window.status_note.text() == ""
    _engine_query(counter, 4)  # the queued 查单, first in the slot
    counter.qtbot.waitUntil(lambda: "已查单" in co.qr_status.text(), timeout=10000)
    assert f"{_hms(due)} 已查单：顾客还没有付款" in co.qr_status.text()
    assert "正在查单" not in co.qr_status.text()


def test_f5_queued_sees_a_payment_made_meanwhile(counter):
    co = counter.checkout
    _qr(counter, "3.00")
    counter.key(Qt.Key.Key_Escape)
    counter.wait_mode("result")
    counter.key(Qt.Key.Key_Escape)
    counter.run(14)
    shown = _qr(counter, "8.00")
    counter.run(1)
    counter.run(1)
    _f5(counter)
    assert "正在查单" in co.qr_status.text()
    counter.sim.pay("ltzf", shown.out_trade_no)
    counter.run(4)
    counter.wait_state("paid")
    assert co.mode == "result" and "收款成功" in co.result_title.text()
    assert not co.result_status.isVisible()


def test_f5_in_english_says_it_plainly(qtbot, tmp_path):
    c = open_counter(qtbot, tmp_path, lang="en")
    try:
        _qr(c)
        asked_at = _engine_query(c, 5)
        _f5(c)
        status = c.checkout.qr_status.text()
        assert f"Checked at {_hms(asked_at)}: not paid yet" in status
        assert "too" not in status.lower()
    finally:
        close_counter(c)


def _its500_wechat(counter):
    co = counter.checkout
    counter.window.set_profile(ITS500)
    order = _qr(counter, "10", key=Qt.Key.Key_F2)
    assert order.method == "wechat" and not order.qr and order.qr_image_url
    counter.qtbot.waitUntil(lambda: co.qr.image is not None, timeout=10000)
    counter.idle()
    QApplication.processEvents()
    return co, counter.engine.order(order.out_trade_no)


def test_its500_picture_qr_has_no_gateway_words(counter):
    """A QR that came as a picture only: the clerk sees the state and the amount to
    pay, big; nothing about what the gateway did or did not give."""
    co, order = _its500_wechat(counter)
    assert co.qr_status.text() == "等待顾客扫码付款"
    assert co.qr_amount.text() == "¥ " + format(order.amount_to_pay, "f")
    words = _everywhere(counter)
    assert "网关" not in words and "图片" not in words


def test_its500_picture_qr_has_no_gateway_words_in_english(qtbot, tmp_path):
    c = open_counter(qtbot, tmp_path, lang="en")
    try:
        co, order = _its500_wechat(c)
        assert co.qr_status.text() == "Waiting for the customer to pay"
        assert co.qr_amount.text() == "¥ " + format(order.amount_to_pay, "f")
        words = _everywhere(c).lower()
        assert "gateway" not in words and "image" not in words
    finally:
        close_counter(c)


def test_check_note_says_one_thing_per_answer():
    """The presenter's words for a 查单 (pure): queued, answered, not answered, and
    nothing under a paid screen."""
    from dataclasses import dataclass, replace

    from cashier.engine.types import CheckAnswer, QueryNote
    from cashier.ui.checkout import presenter

    @dataclass(frozen=True)
    class Order:
        out_trade_no: str = "P1"
        state: str = "pending"
        paid_amount: object = None

    order, at = Order(), 1_790_000_000.0
    queued = CheckAnswer(order, asked_at=at, due_at=at + 4)
    assert presenter.check_note(order, queued, None).key == "ui.check.queued"
    assert _hms(at + 4) in presenter.check_note(order, queued, QueryNote(at - 7, True)).render()  # an older query
    assert presenter.check_note(order, queued, QueryNote(at + 4, True)).render() == f"{_hms(at + 4)} 已查单：顾客还没有付款"
    assert presenter.check_note(order, queued, QueryNote(at + 4, False)).key == "ui.check.no_answer"
    recent = CheckAnswer(order, asked_at=at, queried_at=at - 2)
    assert presenter.check_note(order, recent, None).key == "ui.check.unpaid"
    assert presenter.check_note(replace(order, state="paid", paid_amount=1), recent, None) == presenter.NONE
    assert presenter.check_note(replace(order, state="needs_check", paid_amount=1), recent, None).key == "ui.check.done"
    assert presenter.check_note(replace(order, out_trade_no="P2"), recent, None) == presenter.NONE
