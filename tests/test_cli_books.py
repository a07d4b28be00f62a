"""cashier-cli's back office as a script runs it: real subprocesses, the simulator,
the ledger file; the --json field names the issue fixes."""

from __future__ import annotations

import csv
import datetime
from decimal import Decimal

from cashier.ledger import Ledger
from cashier.paths import database_path
from cashier.settings import SettingsStore
from tests.test_cli import add_profile, as_json, cli

PIN = "8642"


def test_a_day_at_the_counter_from_the_command_line(demo_profile, sim_client, tmp_path):
    SettingsStore().set_pin(PIN)
    epay = add_profile(demo_profile, "epay")
    fengniao = add_profile(demo_profile, "fengniao")
    opened = as_json(cli("--json", "shift", "open", "--clerk", "小王", "--float", "100.00"))
    assert opened["shift_id"] == 1 and opened["clerk"] == "小王"
    assert cli("shift", "open", "--clerk", "小李", check=False).returncode == 1  # one open shift per counter

    qr = as_json(cli("--json", "pay", epay, "--amount", "30.00", "--method", "wechat"))
    sim_client.pay("epay", qr["out_trade_no"], url=qr["qr"])
    assert as_json(cli("--json", "query", epay, qr["out_trade_no"]))["status"] == "paid"
    micro = as_json(cli("--json", "micropay", fengniao, "--amount", "20.00", "--auth-code", "134567890123456789"))
    assert micro["status"] == "paid"
    cash = as_json(cli("--json", "cash", "--amount", "12.00", "--tendered", "20.00"))
    assert {k: cash[k] for k in ("status", "amount", "change")} == {"status": "paid", "amount": "12.00",
                                                                      "change": "8.00"}
    assert cash["out_trade_no"].startswith("C")
    refund = as_json(cli("--json", "refund", epay, qr["out_trade_no"], "--amount", "5.00", "--reason", "退货",
                         "--pin-stdin", stdin=PIN + "\n"))
    assert refund["status"] == "succeeded"
    no_pin = cli("cash-refund", cash["out_trade_no"], "--amount", "2.00", check=False)
    assert no_pin.returncode == 1 and "店长密码" in no_pin.stderr
    wrong = cli("cash-refund", cash["out_trade_no"], "--amount", "2.00", "--pin-stdin", stdin="0000\n", check=False)
    assert wrong.returncode == 1 and "不正确" in wrong.stderr
    as_json(cli("--json", "cash-refund", cash["out_trade_no"], "--amount", "2.00", "--reason", "少找",
                "--pin-stdin", stdin=PIN + "\n"))
    out = as_json(cli("--json", "cash-move", "--amount", "-50.00", "--reason", "取款"))
    assert out["kind"] == "out" and out["amount"] == "-50.00"

    closed = as_json(cli("--json", "shift", "close", "--counted", "59.00"))
    assert closed["shift_id"] == 1
    assert (closed["expected_cash"], closed["counted_cash"], closed["difference"]) == ("60.00", "59.00", "-1.00")
    assert closed["totals"]["cash"]["amount"] == "12.00" and closed["totals"]["cash"]["refunded"] == "2.00"
    assert closed["totals"]["qr"]["amount"] == "30.00" and closed["totals"]["qr"]["refunded"] == "5.00"
    assert closed["totals"]["micropay"]["amount"] == "20.00"
    assert as_json(cli("--json", "shift", "report", "1")) == {**closed}
    text = cli("shift", "report").stdout
    assert "59.00" in text and "-1.00" in text

    today = datetime.date.today().isoformat()
    path = tmp_path / "账目.csv"
    exported = as_json(cli("--json", "export", "--from", today, "--to", today, "--out", str(path)))
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    assert len(body) == exported["rows"] == 2 + 1 + 3  # 2 orders, 1 refund, 3 cash entries
    number, amount, paid = header.index("单号"), header.index("金额"), header.index("实收")
    with Ledger(database_path()) as ledger:
        for row in body:
            no = row[number]
            order = ledger.get_order(no)
            if order is not None:
                assert Decimal(row[amount]) == order.amount and Decimal(row[paid]) == order.paid_amount
                continue
            refund_rec = ledger.get_refund(no)
            if refund_rec is not None:
                assert Decimal(row[amount]) == refund_rec.amount
                continue
            entry = ledger.cash_entry(no)
            assert entry is not None and Decimal(row[amount]) == entry.amount
        for row in body:  # amounts are text with exactly two decimals
            assert all(len(v.split(".")[1]) == 2 for v in (row[amount], row[paid]) if v)


def test_reconcile_and_resolve_from_the_command_line(demo_profile, sim_client):
    SettingsStore().set_pin(PIN)
    epay = add_profile(demo_profile, "epay")
    merchant = demo_profile("epay")[0].merchant_id
    qr = as_json(cli("--json", "pay", epay, "--amount", "18.00", "--method", "alipay"))
    sim_client.pay("epay", qr["out_trade_no"], url=qr["qr"])
    as_json(cli("--json", "query", epay, qr["out_trade_no"]))
    sim_client.set_amount("epay", qr["out_trade_no"], "81.00")
    foreign = sim_client.foreign_order("epay", merchant, "6.60")

    found = as_json(cli("--json", "reconcile", epay, "--date", datetime.date.today().isoformat()))
    assert found["orders_checked"] == 1
    diffs = {d["out_trade_no"]: d for d in found["differences"]}
    assert set(diffs) == {qr["out_trade_no"], foreign["out_trade_no"]}
    assert diffs[qr["out_trade_no"]]["kind"] == "amount_differs"
    assert diffs[qr["out_trade_no"]]["ours"]["paid_amount"] == "18.00"
    assert diffs[qr["out_trade_no"]]["gateway"]["amount"] == "81.00"
    assert diffs[foreign["out_trade_no"]]["kind"] == "unknown_to_us"
    assert set(diffs[foreign["out_trade_no"]]) >= {"out_trade_no", "kind", "ours", "gateway"}

    refused = cli("--json", "reconcile", "resolve", foreign["out_trade_no"], "--action", "record", "--note", "补记",
                  check=False)
    assert refused.returncode == 1 and "店长密码" in refused.stderr
    done = as_json(cli("--json", "reconcile", "resolve", foreign["out_trade_no"], "--action", "record",
                       "--note", "补记", "--pin-stdin", stdin=PIN + "\n"))
    assert done["resolution"] == "record" and done["resolved_by"] == "manager"
    as_json(cli("--json", "reconcile", "resolve", qr["out_trade_no"], "--action", "refund", "--note", "多收了",
                "--pin-stdin", stdin=PIN + "\n"))
    report = as_json(cli("--json", "report"))
    assert report["reconciliation"][-1]["unresolved"] == 0
    assert any(line["paid_sum"] == "6.60" or line["paid_sum"] == "24.60" for line in report["lines"])
