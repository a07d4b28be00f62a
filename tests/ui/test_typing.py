"""The scanner detector acts on the checkout only: in every text field of every
dialog and page, keys typed at scanner speed (1 ms) or password-manager speed
(30 ms) land whole, and nothing is said in the status bar. A code scanned on the
checkout that is not a payment code is never shown (its kind and length only)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit

from tests.ui.conftest import FENGNIAO, LTZF

TEXTS = {  # what a password manager or a hurried person types into such a field
    "url": "http://pay.example.com:8443/gateway/v3?x=1",
    "secret": "demo-ltzf-secret-7fa9c2e1b4",
    "digits": "134567890123456789",
}


def _type(counter, edit: QLineEdit, text: str, gap_ms: float) -> None:
    edit.setFocus()
    counter.keys.t += 500
    for ch in text:
        counter.keys.t += gap_ms
        QTest.keyClicks(edit, ch)
    counter.keys.t += 500
    counter.window.scanner.poll()


def _fields(widget) -> list[QLineEdit]:
    return [e for e in widget.findChildren(QLineEdit) if e.isVisible() and e.isEnabled() and not e.isReadOnly()
            and e.parent() is not None and type(e.parent()).__name__ not in ("QSpinBox", "QDateEdit", "QComboBox")]


def _type_everywhere(counter, widget, gap_ms: float, where: str) -> list[str]:
    problems = []
    fields = _fields(widget)
    assert fields, f"no text field found in {where}"
    for i, edit in enumerate(fields):
        text = list(TEXTS.values())[i % len(TEXTS)]
        if edit.maxLength() < len(text):
            text = "13456789012345678"[: edit.maxLength()] if edit.echoMode() == QLineEdit.EchoMode.Password \
                else text[: edit.maxLength()]
        if edit.validator() is not None or edit.echoMode() == QLineEdit.EchoMode.Password and edit.maxLength() <= 8:
            text = "24681357"[: edit.maxLength()]
        edit.clear()
        _type(counter, edit, text, gap_ms)
        if edit.text() != text:
            problems.append(f"{where} field {i}: typed {text!r}, got {edit.text()!r}")
    note = counter.window.status_note.text()
    if note:
        problems.append(f"{where}: the status bar says {note!r}")
    return problems


@pytest.mark.parametrize("gap_ms", [1.0, 30.0])
def test_every_text_field_gets_every_key(counter, qtbot, gap_ms):
    from cashier.ui.history import RefundDialog, SetPinDialog
    from cashier.ui.settings_page import ProfileDialog

    window = counter.window
    problems: list[str] = []
    with qtbot.assertNotEmitted(window.scanner.scanned):
        # Profile dialog, every gateway's fields (the add dialog of the issue).
        dialog = ProfileDialog(window)
        dialog.open()
        qtbot.waitExposed(dialog)
        for i in range(dialog.gateway.count()):
            dialog.gateway.setCurrentIndex(i)
            problems += _type_everywhere(counter, dialog, gap_ms, f"profile dialog ({dialog.gateway.currentData()})")
        dialog.reject()
        # Set-PIN and refund dialogs.
        pin = SetPinDialog(window)
        pin.open()
        qtbot.waitExposed(pin)
        problems += _type_everywhere(counter, pin, gap_ms, "PIN dialog")
        pin.reject()
        co = counter.checkout
        counter.type_human("30")
        counter.key(Qt.Key.Key_F1)
        counter.wait_mode("qr")
        counter.sim.pay("ltzf", co.current.out_trade_no)
        counter.run(6)
        counter.wait_state("paid")
        refund = RefundDialog(window, co.current, Decimal("30.00"))
        refund.open()
        qtbot.waitExposed(refund)
        problems += _type_everywhere(counter, refund, gap_ms, "refund dialog")
        refund.reject()
        # Pages with text fields: settings (general), history search.
        for name in ("settings", "history"):
            page = window.show_page(name)
            counter.idle()
            problems += _type_everywhere(counter, page, gap_ms, name)
        # The name asked for by 已核对.
        from cashier.ui.attention import CheckerDialog

        ask = CheckerDialog(window)
        ask.open()
        qtbot.waitExposed(ask)
        problems += _type_everywhere(counter, ask, gap_ms, "checked-by dialog")
        ask.reject()
    assert not problems, "\n".join(problems)


def test_a_scanned_secret_on_the_checkout_is_never_shown(counter):
    co = counter.checkout
    counter.window.set_profile(FENGNIAO)
    counter.scan(TEXTS["secret"])
    shown = co.message.text() + counter.window.status_note.text()
    assert "secret" not in shown and "7fa9" not in shown
    assert "不是付款码" in co.message.text() and str(len(TEXTS["secret"])) in co.message.text()


def test_a_code_on_a_profile_without_payment_codes_goes_to_one_that_takes_them(counter):
    co = counter.checkout
    assert co.profile == LTZF and not co.micropay_ok  # LTZF takes no 付款码
    assert FENGNIAO in co.hint.text()  # the checkout says where codes go
    counter.type_human("6.6")
    counter.scan("134567890123456780")
    counter.wait_state("paid")
    assert co.current.profile == FENGNIAO and co.current.method == "micropay"


def test_without_a_profile_for_codes_the_message_names_the_ones_that_can(counter, tmp_path):
    from cashier.settings import SettingsStore

    co = counter.checkout
    counter.window.ctx.demo = False  # as in a shop: no demo routing
    counter.window.apply_settings(SettingsStore().update(micropay_profile=None))
    counter.type_human("6.6")
    counter.scan("134567890123456780")
    assert co.mode == "entry"
    assert "不能收付款码" in co.message.text() and FENGNIAO in co.message.text()
    assert all(o["auth_code"] != "134567890123456780" for o in counter.sim.orders("fengniao"))
    counter.window.ctx.demo = True
