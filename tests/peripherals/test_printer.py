"""Receipts over a real socket to a fake ESC/POS printer, and python-escpos's Dummy for layout."""

from __future__ import annotations

from decimal import Decimal

import pytest
from escpos.printer import Dummy

from cashier.gateways.base import Method
from cashier.i18n import UserError
from cashier.ledger import states as S
from cashier.peripherals import Peripherals
from cashier.peripherals.printer import (PAPER_COLUMNS, PrinterError, Slip, display_width, parse_printer_url,
                                         print_slip, render, row_lines, sale_slip)
from cashier.peripherals.spooler import Spooler
from cashier.settings import Settings
from tests.peripherals.conftest import free_port

ESC_INIT = b"\x1b@"
GS_CUT = b"\x1dV"
QR_STORE = b"\x1d(k"  # GS ( k: the native 2D-code function


@pytest.mark.parametrize("url, kind, address, extra", [
    ("tcp://192.168.1.50:9100", "tcp", "192.168.1.50", 9100),
    ("tcp://printer.lan", "tcp", "printer.lan", 9100),
    ("usb://0416:5011", "usb", "0416:5011", None),
    ("serial:///dev/ttyUSB0?baud=19200", "serial", "/dev/ttyUSB0", 19200),
    ("serial://COM3?baud=9600", "serial", "COM3", 9600),
    ("COM4", "serial", "COM4", 9600),
    ("win32://XP-58 收银", "win32", "XP-58 收银", None),
    ("cups://Receipt_Printer", "cups", "Receipt_Printer", None),
])
def test_printer_urls(url, kind, address, extra):
    target = parse_printer_url(url)
    assert (target.kind, target.address) == (kind, address)
    if kind == "tcp":
        assert target.port == extra
    if kind == "serial":
        assert target.baud == extra


@pytest.mark.parametrize("url", ["ftp://x", "tcp://", "usb://zz:11", "usb://1:2:3", "serial:///dev/x?baud=7",
                                 "win32://", "lpt1", "tcp://h:99999"])
def test_bad_printer_urls_are_refused_with_a_message(url):
    with pytest.raises(UserError) as info:
        parse_printer_url(url)
    assert "tcp://" in info.value.message()


def test_row_layout_counts_chinese_as_two_columns():
    for width, columns in PAPER_COLUMNS.items():
        for line in row_lines("支付方式", "微信支付", columns) + row_lines("订单号", "P01" + "9" * 40, columns):
            assert display_width(line) <= columns


def test_slip_layout_on_the_dummy_printer_58_and_80():
    slip = Slip(kind="sale", title="收款小票", header=["好又多便利店"], rows=[("金额", "¥12.50")], big="¥12.50",
                code="P0120261201153000000007", footer=["谢谢惠顾"])
    for mm in (58, 80):
        dummy = Dummy()
        render(dummy, slip, paper_mm=mm)
        out = dummy.output
        assert out.startswith(ESC_INIT)
        assert b"\x1c\x26" in out  # Chinese mode on for GB18030
        assert "好又多便利店".encode("gb18030") in out
        assert b"-" * PAPER_COLUMNS[mm] + b"\n" in out
        assert QR_STORE in out and b"P0120261201153000000007" in out
        assert GS_CUT in out


def test_utf8_printers_get_utf8_and_no_chinese_mode():
    dummy = Dummy()
    render(dummy, Slip(kind="test", title="测试"), encoding="utf-8")
    assert "测试".encode("utf-8") in dummy.output
    assert b"\x1c\x26" not in dummy.output


def test_receipt_of_a_paid_sale_over_a_real_socket(env, printer):
    profile = env.profile("ltzf")
    order = env.engine.start_qr(profile, Decimal("12.50"), Method.WECHAT)
    env.sim_client.pay("ltzf", order.out_trade_no)
    paid = env.run_until(order.out_trade_no, {S.PAID})

    print_slip(parse_printer_url(printer.url), sale_slip(paid, shop="好又多便利店"))
    assert printer.received.wait(5)
    data = printer.data
    assert data.startswith(ESC_INIT)
    assert GS_CUT in data
    assert b"12.50" in data
    assert paid.out_trade_no.encode() in data
    assert "收款小票".encode("gb18030") in data and "好又多便利店".encode("gb18030") in data
    assert "微信支付".encode("gb18030") in data and "蓝兔支付".encode("gb18030") in data
    qr_at = data.index(QR_STORE)
    assert paid.out_trade_no.encode() in data[qr_at:qr_at + 200]  # the QR carries the order number


def test_printer_that_is_off_says_so_plainly():
    with pytest.raises(PrinterError) as info:
        print_slip(parse_printer_url(f"tcp://127.0.0.1:{free_port()}"), Slip(kind="test", title="x"), timeout=1)
    assert "打印机连接不上" in info.value.message()
    assert "Traceback" not in info.value.message()


def test_auto_print_with_the_printer_down_queues_and_reprint_sends(env, printer, tmp_path):
    """The payment does not wait for the printer: the receipt waits in the queue, and a
    retry after the printer is back prints it."""
    dead = f"tcp://127.0.0.1:{free_port()}"
    settings = Settings(auto_print=True, printer_url=dead, shop_name="好又多")
    messages = []
    queue_file = tmp_path / "print-queue.json"
    spooler = Spooler.for_settings(settings, path=queue_file, retry_seconds=3600, on_status=lambda s: messages.append(s))
    devices = Peripherals(settings, spooler=spooler.start(), lookup_order=env.engine.order, clock=env.clock.now)
    env.engine.subscribe(devices.on_engine_event)

    order = env.engine.start_qr(env.profile("ltzf"), Decimal("8.80"), Method.ALIPAY)
    env.sim_client.pay("ltzf", order.out_trade_no)
    paid = env.run_until(order.out_trade_no, {S.PAID})
    assert paid.state == S.PAID  # the payment is done whatever the printer does
    assert spooler.wait_idle(10)
    assert len(spooler.pending()) == 1
    assert messages and messages[-1].error and messages[-1].waiting == 1
    assert queue_file.exists()  # kept on disk: a restart still has it

    # The printer comes back (same settings, now pointing at it): a retry prints it.
    spooler2 = Spooler.for_settings(settings.replace(printer_url=printer.url), path=queue_file, retry_seconds=3600)
    spooler.stop()
    assert len(spooler2.pending()) == 1  # loaded from disk
    status = spooler2.run_once()
    assert status.printed == 1 and not spooler2.pending()
    assert printer.wait_jobs(1)
    assert paid.out_trade_no.encode() in printer.data

    # And a reprint from the history sends it again.
    devices2 = Peripherals(settings.replace(printer_url=printer.url), spooler=spooler2,
                           lookup_order=env.engine.order, clock=env.clock.now)
    devices2.reprint(paid.out_trade_no)
    spooler2.run_once()
    assert printer.wait_jobs(2)
    assert printer.data.count(paid.out_trade_no.encode()) >= 4  # text + QR, twice


def test_paid_order_is_printed_once_however_many_events(env, printer, tmp_path):
    settings = Settings(auto_print=True, printer_url=printer.url)
    spooler = Spooler.for_settings(settings, path=tmp_path / "q.json")
    devices = Peripherals(settings, spooler=spooler, lookup_order=env.engine.order, clock=env.clock.now)
    env.engine.subscribe(devices.on_engine_event)
    order = env.engine.start_qr(env.profile("ltzf"), Decimal("1.00"), Method.ALIPAY)
    env.sim_client.pay("ltzf", order.out_trade_no)
    paid = env.run_until(order.out_trade_no, {S.PAID})
    env.engine.check(paid.out_trade_no)
    assert len(spooler.pending()) == 1


def test_reprint_refuses_an_unpaid_order(env, tmp_path):
    settings = Settings(printer_url="tcp://127.0.0.1:9")
    devices = Peripherals(settings, spooler=Spooler.for_settings(settings, path=tmp_path / "q.json"),
                          lookup_order=env.engine.order)
    order = env.engine.start_qr(env.profile("ltzf"), Decimal("1.00"), Method.ALIPAY)
    with pytest.raises(UserError) as info:
        devices.reprint(order.out_trade_no)
    assert "没有付款" in info.value.message()


def test_cash_drawer_kick_goes_to_the_printer(printer):
    devices = Peripherals(Settings(printer_url=printer.url, cash_drawer=True))
    devices.open_drawer()
    assert printer.received.wait(5)
    assert printer.data.startswith(b"\x1bp")  # ESC p: the drawer kick pulse


def test_cash_drawer_setting_off_refuses(printer):
    devices = Peripherals(Settings(printer_url=printer.url, cash_drawer=False))
    with pytest.raises(UserError):
        devices.open_drawer()


def test_a_refund_prints_its_slip_once(env, printer, tmp_path):
    settings = Settings(auto_print=True, printer_url=printer.url, shop_name="好又多")
    spooler = Spooler.for_settings(settings, path=tmp_path / "q.json")
    devices = Peripherals(settings, spooler=spooler, lookup_order=env.engine.order, clock=env.clock.now)
    env.engine.subscribe(devices.on_engine_event)
    order = env.engine.start_qr(env.profile("fengniao"), Decimal("9.00"), Method.ALIPAY)
    env.sim_client.pay("fengniao", order.out_trade_no)
    env.run_until(order.out_trade_no, {S.PAID})
    refund = env.engine.refund(order.out_trade_no, Decimal("4.00"), "退货", actor="店长")
    for _ in range(60):
        if env.engine.ledger.get_refund(refund.out_refund_no).state == "succeeded":
            break
        env.run(1)
    assert env.engine.ledger.get_refund(refund.out_refund_no).state == "succeeded"
    spooler.run_once()
    assert printer.wait_jobs(2)  # the sale's receipt, then the refund slip
    slip = printer.jobs[1]
    assert "退款单".encode("gb18030") in slip and b"4.00" in slip and refund.out_refund_no.encode() in slip
    assert "退货".encode("gb18030") in slip


def test_settings_check_peripheral_values():
    from cashier.settings import Settings

    for bad in (dict(printer_paper_mm=70), dict(printer_encoding="big5"), dict(printer_copies=9),
                dict(voice_volume=101), dict(voice_words={"wechat": "no placeholder"}), dict(auto_print="yes"),
                dict(customer_display_screen=12), dict(shop_name="店" * 41), dict(printer_url="lpt://1")):
        with pytest.raises(UserError):
            Settings(**bad)
    assert Settings(voice_words={"alipay": "到账{amount}元"}, printer_url="COM3").printer_url == "COM3"


def test_a_payment_found_long_after_the_gateways_paid_time_still_prints(env, printer, tmp_path):
    """The receipt follows our books (the moment we learnt it), not the gateway's clock."""
    settings = Settings(auto_print=True, printer_url=printer.url)
    spooler = Spooler.for_settings(settings, path=tmp_path / "q.json")
    devices = Peripherals(settings, spooler=spooler, lookup_order=env.engine.order, clock=env.clock.now)
    env.engine.subscribe(devices.on_engine_event)
    order = env.engine.start_qr(env.profile("fengniao"), Decimal("5.00"), Method.ALIPAY)
    env.sim_client.pay("fengniao", order.out_trade_no)
    env.advance(3600)  # the counter was offline for an hour
    paid = env.run_until(order.out_trade_no, {S.PAID})
    assert env.clock.now() - paid.paid_at >= 3600
    assert len(spooler.pending()) == 1
