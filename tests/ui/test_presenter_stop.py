"""The presenter (pure) for a payment code the clerk stopped waiting for."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cashier.ui.checkout import presenter


@dataclass
class Order:
    state: str = "userpaying"
    method: str = "micropay"
    wallet: str = "wechat"
    amount: Decimal = Decimal("5.00")
    amount_to_pay: Decimal = Decimal("5.00")
    created_at: float = 1000.0
    expires_at: float | None = 1030.0
    reason: str | None = None
    auth_code_last4: str = "6789"


def test_waiting_then_stopping_says_so_without_a_countdown():
    waiting = presenter.present(Order(), 1005.0)
    assert waiting.countdown and waiting.can_stop
    stopping = presenter.present(Order(), 1006.0, cancelled=True)
    assert stopping.panel == presenter.WAITING
    assert stopping.status.key == "ui.stopping" and stopping.detail.key == "ui.stopping_detail"
    assert not stopping.countdown and not stopping.can_stop  # one truth: no "reversed in 9 s" beside it
    assert "15 秒" in stopping.detail.render()


def test_a_qr_past_its_expiry_says_it_is_checking_not_zero_left():
    qr = Order(state="pending", method="wechat", expires_at=1300.0)
    assert "0:01" in presenter.countdown(qr, 1299.0).render()
    late = presenter.countdown(qr, 1305.0)
    assert late.key == "ui.expiring" and "0:00" not in late.render()


def test_a_one_code_qr_paid_with_wechat_names_the_wallet():
    from cashier.ui.attention import method_text
    from cashier.ui.checkout import wallet_text

    paid = Order(state="paid", method="merged", wallet="wechat")
    assert method_text(paid) == wallet_text("merged") + " · " + wallet_text("wechat")
    assert method_text(Order(state="pending", method="merged", wallet="unknown")) == wallet_text("merged")
