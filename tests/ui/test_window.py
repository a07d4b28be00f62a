"""Around the checkout: demo customer, refunds with the manager PIN, the to-check list,
report, settings, first run, IME safety, start-up flags."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from PySide6.QtCore import Qt
from PySide6.QtGui import QInputMethodEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit

from cashier.settings import SettingsStore
from tests.ui.conftest import FENGNIAO

WECHAT_CODE = "134567890123456789"


def _paid_qr_order(counter, amount="30"):
    co = counter.checkout
    counter.type_human(amount)
    counter.key(Qt.Key.Key_F1)
    counter.wait_mode("qr")
    return co.current


def test_ctrl_shift_p_customer_pays_the_shown_order(counter, qtbot):
    co = counter.checkout
    order = _paid_qr_order(counter)
    QTest.keyClick(counter.window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    counter.idle()
    books = {o["out_trade_no"]: o for o in counter.sim.orders("ltzf")}
    assert books[order.out_trade_no]["status"] == "SUCCESS"
    counter.run(6)
    counter.wait_state("paid")
    assert co.mode == "result"


def test_refund_needs_a_pin_and_is_followed(counter, qtbot):
    co = counter.checkout
    order = _paid_qr_order(counter, "30")
    counter.sim.pay("ltzf", order.out_trade_no)
    counter.run(6)
    counter.wait_state("paid")
    SettingsStore().set_pin("2468")
    page = counter.window.show_page("history")
    qtbot.waitUntil(lambda: any(o.out_trade_no == order.out_trade_no for o in page.orders), timeout=10000)
    page.select(order.out_trade_no)
    qtbot.waitUntil(lambda: page.refund_button.isEnabled(), timeout=10000)
    dialog = page.open_refund_dialog()
    dialog.amount.setText("10")
    dialog.pin.setText("1111")
    dialog.submit()
    assert "不正确" in dialog.error.text()
    dialog.pin.setText("2468")
    dialog.submit()
    qtbot.waitUntil(lambda: dialog.result_refund is not None, timeout=10000)
    refund = dialog.result_refund
    assert refund.amount == Decimal("10.00") and refund.actor == "店长"
    counter.clock.advance(120)
    counter.sim.advance(120)
    for _ in range(5):
        counter.run(15)
    qtbot.waitUntil(lambda: page.refunds and page.refunds[0].state == "succeeded", timeout=10000)
    assert counter.engine.refundable(order.out_trade_no) == Decimal("20.00")
    assert "退款成功" in page.refund_table.item(0, 3).text()


def test_refund_without_pin_asks_the_manager_to_set_one(counter, qtbot):
    from cashier.ui.history import SetPinDialog

    dialog = SetPinDialog()
    qtbot.addWidget(dialog)
    dialog.pin1.setText("1357")
    dialog.pin2.setText("1358")
    dialog.save()
    assert "不一致" in dialog.error.text()
    dialog.pin2.setText("1357")
    dialog.save()
    assert SettingsStore().load().verify_pin("1357")


def test_needs_check_is_listed_until_marked_checked(counter, qtbot):
    co = counter.checkout
    counter.window.set_profile(FENGNIAO)
    counter.sim.micropay_behaviour("never", auth_code=WECHAT_CODE)
    counter.type_human("15")
    counter.scan(WECHAT_CODE)
    counter.wait_mode("waiting")
    counter.sim.fault("http500", gateway="fengniao", op="*", count=-1)
    for _ in range(40):
        counter.run(5)
        if co.current.state == "needs_check":
            break
    counter.wait_state("needs_check")
    assert co.mode == "result" and "核对" in co.result_title.text()
    counter.sim.clear_faults()
    page = counter.window.show_page("attention")
    qtbot.waitUntil(lambda: any(o.state == "needs_check" for o in page.orders), timeout=10000)
    assert "待处理 (1)" in counter.window.nav_buttons["attention"].text()
    page.select(co.current.out_trade_no)
    page.mark_selected(who="王店长")
    qtbot.waitUntil(lambda: not page.orders, timeout=10000)
    assert counter.engine.order(co.current.out_trade_no).checked_by == "王店长"


def test_report_lists_the_day(counter, qtbot):
    order = _paid_qr_order(counter, "12")
    counter.sim.pay("ltzf", order.out_trade_no)
    counter.run(6)
    counter.wait_state("paid")
    page = counter.window.show_page("report")
    qtbot.waitUntil(lambda: page.report is not None and bool(page.report.lines), timeout=10000)
    texts = [page.table.item(r, c).text() for r in range(page.table.rowCount()) for c in range(page.table.columnCount())]
    assert "¥12.00" in texts and "合计" in texts


def test_report_for_the_whole_shop_or_this_counter(counter, qtbot):
    """On shared books the report covers every counter, or only this one's sales."""
    from tests.ledger.helpers import drive

    order = _paid_qr_order(counter, "12")
    counter.sim.pay("ltzf", order.out_trade_no)
    counter.run(6)
    counter.wait_state("paid")
    ledger = counter.ctx.ledger  # another counter's sale in the same books
    ledger.create_order(out_trade_no="PZ9OTHER", sale_id="S-Z9", counter_id="Z9", profile=order.profile,
                        gateway=order.gateway, method="wechat", wallet="wechat", amount=Decimal("30.00"))
    drive(ledger, "PZ9OTHER", "paid")
    page = counter.window.show_page("report")
    qtbot.waitUntil(lambda: page.report is not None and page.report.totals.paid_count == 2, timeout=10000)
    assert page.report.counter_id is None and page.report.totals.paid_sum == Decimal("42.00")
    mine = counter.engine.settings.counter_id
    assert page.scope.itemText(1) == f"本收银台（{mine}）"
    page.scope.setCurrentIndex(1)
    qtbot.waitUntil(lambda: page.report.counter_id == mine, timeout=10000)
    assert (page.report.totals.paid_count, page.report.totals.paid_sum) == (1, Decimal("12.00"))


def test_settings_page_validates_and_applies(counter, qtbot):
    page = counter.window.show_page("settings")
    page.counter_id.setText("A-1")
    assert not page.save()
    assert "收银台编号" in page.message.text()
    page.counter_id.setText("B2")
    page.gap.setValue(120)
    assert page.save()
    assert SettingsStore().load().counter_id == "B2"
    assert counter.window.scanner.detector.config.max_gap_ms == 120
    page.tabs.setCurrentIndex(1)
    assert page.table.rowCount() == 5  # a demo profile per gateway
    page.table.selectRow(2)
    page.test_selected()
    from cashier.i18n import tr

    qtbot.waitUntil(lambda: page.test_result.text() not in ("", tr("ui.set.testing")), timeout=10000)
    # the gateway's own words, once (it read "连接成功：连接正常：商户 …")
    assert page.test_result.text().startswith("连接正常：商户 ") and page.test_result.text().count("连接") == 1


def test_profile_dialog_keeps_the_key_in_the_keyring(qtbot, sim):
    from cashier import secrets
    from cashier.profiles import ProfileStore
    from cashier.ui.settings_page import ProfileDialog

    dialog = ProfileDialog()
    qtbot.addWidget(dialog)
    assert dialog.secret.echoMode() == QLineEdit.EchoMode.Password
    dialog.name.setText("店里的蓝兔")
    dialog.gateway.setCurrentIndex(dialog.gateway.findData("ltzf"))
    dialog.base_url.setText(sim.gateway_url("ltzf"))
    dialog.merchant_id.setText("1230000109")
    dialog.save()
    assert dialog.error.text()  # no key typed
    dialog.secret.setText("demo-ltzf-secret-0000000000000001")
    dialog.save()
    assert not dialog.error.text()
    assert ProfileStore().get("店里的蓝兔").merchant_id == "1230000109"
    assert secrets.get_secret("店里的蓝兔") == "demo-ltzf-secret-0000000000000001"
    assert "demo-ltzf-secret" not in ProfileStore().path.read_text("utf-8")


def test_first_run_offers_demo(qtbot):
    from cashier.ui.app import make_app
    from cashier.ui.window import MainWindow

    make_app([])
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.show_first_run()
    assert window.pages.currentWidget() is window.first_run
    assert "演示" in window.first_run.demo_button.text()
    window.first_run.demo_button.click()
    qtbot.waitUntil(lambda: window.ctx is not None, timeout=20000)
    assert window.demo and window.checkout.profile
    window.shutdown()


def test_ime_composition_is_never_a_scan(counter, qtbot):
    co = counter.checkout
    counter.window.set_profile(FENGNIAO)
    edit = QLineEdit()
    qtbot.addWidget(edit)
    edit.show()
    QApplication.sendEvent(edit, QInputMethodEvent("shou", []))
    assert counter.window.scanner.detector.composing
    with qtbot.assertNotEmitted(counter.window.scanner.scanned):
        counter.keys.t += 500
        for ch in WECHAT_CODE:
            counter.keys.t += 1
            QTest.keyClicks(edit, ch)
        QTest.keyClick(edit, Qt.Key.Key_Return)
    assert edit.text() == WECHAT_CODE  # the keys reached the field at once
    commit = QInputMethodEvent()
    commit.setCommitString("收")
    QApplication.sendEvent(edit, commit)
    assert not counter.window.scanner.detector.composing
    assert co.mode == "entry"


def test_a_scan_speed_burst_in_a_text_field_elsewhere_lands_as_typed(counter, qtbot):
    counter.window.set_profile(FENGNIAO)
    edit = QLineEdit()
    qtbot.addWidget(edit)
    edit.show()
    with qtbot.assertNotEmitted(counter.window.scanner.scanned):
        counter.keys.t += 500
        for ch in WECHAT_CODE:
            counter.keys.t += 1
            QTest.keyClicks(edit, ch)
            assert WECHAT_CODE.startswith(edit.text()) and edit.text()  # each key at once
        counter.keys.t += 1
        QTest.keyClick(edit, Qt.Key.Key_Return)
    assert edit.text() == WECHAT_CODE
    assert counter.sim.orders("fengniao") == []


@pytest.mark.parametrize("until", ["--exit-after-first-frame", "--exit-when-ready"])
def test_exit_after_first_frame_and_when_ready(tmp_path, until):
    import os

    env = dict(os.environ, CASHIER_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-m", "cashier", "--demo", until, "--print-timings"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    marks = done.stdout.split()
    assert marks[0] == "first_frame"
    if until == "--exit-when-ready":  # the pages were built after the first frame, then the engine was ready
        assert marks[-1] == "ready"
        assert "built=" in done.stderr and "Traceback" not in done.stderr


def test_english_is_available(counter):
    from cashier import i18n
    from cashier.ui.checkout import CheckoutPage

    i18n.set_language("en")
    try:
        page = CheckoutPage(counter.window)
        assert page.caption.text() == "Amount to collect (¥)"
        assert "Any wallet" in page.method_buttons[next(iter(page.method_buttons))].text()
    finally:
        i18n.set_language("zh_CN")


def test_settings_name_where_demo_payment_codes_go(counter):
    # The checkout says which profile takes a scanned code; Settings must not say "nobody".
    route = counter.window.micropay_profile()
    assert route
    page = counter.window.show_page("settings")
    assert page.micropay_profile.currentData() is None
    assert route in page.micropay_profile.currentText()
    assert "不转交" not in page.micropay_profile.currentText()


def test_deferred_window_paints_a_start_up_panel_then_builds_its_pages(qtbot, tmp_path, monkeypatch):
    """The app's window: a plain panel on the first frame, the pages right after
    (complete()); a note flashed before then is shown once the status bar exists."""
    from PySide6.QtWidgets import QLabel

    from cashier.i18n import tr
    from cashier.settings import Settings
    from cashier.ui.window import MainWindow

    monkeypatch.setenv("CASHIER_HOME", str(tmp_path))
    window = MainWindow(demo=True, settings=Settings(), deferred=True)
    qtbot.addWidget(window)
    assert not window.built
    panel = window.centralWidget()
    assert isinstance(panel, QLabel) and panel.text() == tr("ui.starting")
    window.flash("设置文件有误")
    with qtbot.waitSignal(window.first_frame, timeout=5000):
        window.show()
    assert not hasattr(window, "checkout")  # nothing but the panel was built for the first frame
    window.complete()
    window.complete()  # once only
    assert window.built and window.centralWidget() is not panel
    assert window.pages.currentWidget() is window.checkout
    assert window.status_note.text() == "设置文件有误"
    # the keyboard is the checkout's (it was the bare window's: typed amounts went nowhere)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.checkout)
    qtbot.keyClicks(QApplication.focusWidget(), "12")  # fast keys: held a moment as a possible scan
    qtbot.waitUntil(lambda: window.checkout.amount.text == "12")
    window.shutdown()


def test_app_window_offers_handover_once_built(qtbot, tmp_path, monkeypatch):
    """ui.main turns the handover question on before the pages are built: building
    them must not turn it off again."""
    from cashier.settings import Settings
    from cashier.ui.window import MainWindow

    monkeypatch.setenv("CASHIER_HOME", str(tmp_path))
    window = MainWindow(demo=True, settings=Settings(), deferred=True)
    window.ask_handover_on_close = True
    window.close()  # closed before its pages exist: nothing to ask, no error
    window.complete()
    assert window.ask_handover_on_close
    window.shutdown()
    qtbot.addWidget(window)


def test_profile_dialog_opens_with_the_name_field_taking_keys(counter, qtbot):
    """Settings → 商户配置 → 添加 (Ctrl+N): the first key typed goes into 配置名称 (it went
    to the form's invisible scroll area: typing did nothing, no focus ring; seen
    under Xvfb)."""
    from PySide6.QtTest import QTest

    page = counter.window.show_page("settings")
    dialog = page.add_profile()
    qtbot.waitExposed(dialog)
    assert dialog.focusWidget() is dialog.name
    # A window manager (or DialogActivator) gives the keys to the first widget in the
    # Tab chain that takes focus: never the scroll area around the form.
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QScrollArea

    areas = dialog.findChildren(QScrollArea)
    assert areas and all(a.focusPolicy() == Qt.FocusPolicy.NoFocus for a in areas)
    QTest.keyClicks(dialog.focusWidget(), "shop2")
    assert dialog.name.text() == "shop2"
    dialog.reject()


def test_a_dialog_has_an_edge_without_a_window_manager(counter, qtbot):
    """A kiosk has no window manager: no frame, no title bar. The dialog draws its own
    edge, darker than its face and than the page behind (seen under Xvfb: the PIN and
    refund dialogs looked like the settings page cut in half)."""
    from cashier.ui.pin import PinDialog

    dialog = PinDialog(counter.window)
    dialog.show()
    qtbot.waitExposed(dialog)
    image = dialog.grab().toImage()
    h = image.height()
    face = image.pixelColor(image.width() // 2, h - 3).lightness()
    for x, y in ((0, h // 2), (image.width() - 1, h // 2), (image.width() // 2, 0)):
        assert image.pixelColor(x, y).lightness() < face - 60, (x, y)
    dialog.reject()


def test_closing_a_dialog_over_a_dialog_gives_the_keys_back_to_the_one_below(counter, qtbot):
    """No window manager: when a dialog opened from a dialog closes (the print preview
    over 交班), the keys go back to the dialog still open, not to the window it
    covers (under Xvfb the 交班 dialog was left with no focus ring)."""
    from PySide6.QtWidgets import QApplication, QDialog

    window = counter.window
    below = QDialog(window)
    below.setModal(True)
    below.show()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is below)
    above = QDialog(below)
    above.setModal(True)
    above.show()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is above)
    above.reject()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is below)
    below.reject()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def test_demo_customer_says_what_its_seconds_are(counter):
    """The demo customer's number is how long the password takes, said in the window's
    language (it showed a bare '8 s' in Chinese), and only offered when the customer
    pays after a password."""
    panel = counter.window.customer
    kinds = [panel.kind.itemData(i) for i in range(panel.kind.count())]
    panel.kind.setCurrentIndex(kinds.index("pay"))
    assert not panel.seconds.isEnabled()
    panel.kind.setCurrentIndex(kinds.index("password"))
    assert panel.seconds.isEnabled()
    assert panel.seconds.text() == "输密码用 8 秒"


def test_first_run_checkout_offers_no_profile_switch(qtbot):
    """First run, no merchant yet: Alt+1 shows the checkout, where no 切换商户 (F6)
    button is offered (it was, and did nothing; seen under Xvfb)."""
    from cashier.ui.app import make_app
    from cashier.ui.window import MainWindow

    make_app([])
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.show_first_run()
    window.show_page("checkout")
    assert window.pages.currentWidget() is not window.first_run
    assert not window.checkout.entry.switch_button.isVisible()
    window.shutdown()


def test_settings_notes_do_not_outlive_the_visit_or_stay_red(counter):
    """设置: '设置已保存' after a refused save reads as a note, not in the error's red;
    a note from an earlier visit is gone when the page is opened again (under Xvfb
    '店长密码已保存' still showed minutes later)."""
    window = counter.window
    page = window.show_page("settings")
    page.counter_id.setText("")  # refused: a counter needs an id
    assert not page.save()
    assert page.message.text() and page.message.objectName() == "message"
    page.counter_id.setText("02")
    assert page.save()
    assert page.message.objectName() == "hint"
    window.show_page("checkout")
    window.show_page("settings")
    assert page.message.text() == ""


def test_profile_switcher_says_what_each_profile_takes(counter):
    """F6: every profile says what it takes; 站长付 (WeChat and Alipay QR only: no
    一码付, 付款码 or refund) was listed bare, as if it took nothing."""
    from tests.ui.conftest import ITS500

    menu = counter.checkout.choose_profile()
    try:
        texts = [a.text() for a in menu.actions()]
        line = next(t for t in texts if ITS500 in t)
        assert "微信" in line and "支付宝" in line, line
        assert all("（" in t for t in texts), texts
    finally:
        menu.close()
