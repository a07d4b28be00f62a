"""cashier-cli print / drawer / say, as a setup script runs them (real subprocesses)."""

from __future__ import annotations

from tests.conftest import require_tool
from tests.peripherals.conftest import free_port
from tests.test_cli import add_profile, as_json, cli


def test_print_receipt_of_a_paid_order_and_refuse_an_unpaid_one(demo_profile, sim_client, printer):
    name = add_profile(demo_profile, "fengniao")
    order = as_json(cli("--json", "pay", name, "--amount", "6.60", "--method", "alipay"))
    refused = cli("print", "receipt", order["out_trade_no"], "--printer", printer.url, check=False)
    assert refused.returncode == 1 and "没有付款" in refused.stderr and "Traceback" not in refused.stderr

    sim_client.pay("fengniao", order["out_trade_no"])
    assert as_json(cli("--json", "query", name, order["out_trade_no"]))["status"] == "paid"
    printed = as_json(cli("--json", "print", "receipt", order["out_trade_no"], "--printer", printer.url))
    assert printed["printed"] == "sale" and printed["out_trade_no"] == order["out_trade_no"]
    assert printer.wait_jobs(1)
    assert order["out_trade_no"].encode() in printer.data and b"6.60" in printer.data
    assert "收款小票".encode("gb18030") in printer.data


def test_print_test_page_and_drawer(printer):
    assert as_json(cli("--json", "print", "test", "--printer", printer.url))["printed"] == "test"
    assert as_json(cli("--json", "drawer", "open", "--printer", printer.url))["drawer"] == "opened"
    assert printer.wait_jobs(2)
    assert "中文打印正常".encode("gb18030") in printer.jobs[0]
    assert printer.jobs[1].startswith(b"\x1bp")


def test_printer_off_is_one_plain_line():
    proc = cli("print", "test", "--printer", f"tcp://127.0.0.1:{free_port()}", check=False)
    assert proc.returncode == 1
    assert "打印机连接不上" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_no_printer_set_says_so():
    proc = cli("drawer", "open", check=False)
    assert proc.returncode == 1 and "还没有设置小票打印机" in proc.stderr


def test_say_to_a_wav_file(tmp_path):
    require_tool("espeak-ng")
    out = tmp_path / "s.wav"
    said = as_json(cli("--json", "say", "支付宝收款 3.00 元", "--wav", str(out)))
    assert said["said"] == "支付宝收款 3.00 元"
    assert out.stat().st_size > 20_000
