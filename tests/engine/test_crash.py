"""Crash tests: a real `cashier-cli` process is killed with SIGKILL at each phase of a
payment, a reverse and a refund; a fresh process recovers; the simulator's books
and the ledger must agree: no order lost, no double charge, no double refund.

Time: the simulator (in this process) and every CLI process read one clock, wall
time plus an offset kept in a file (CASHIER_CLOCK_OFFSET_FILE), so the test jumps
past a micropay deadline instead of waiting for it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from cashier.engine.clock import OffsetFileClock
from cashier.sim.client import SimClient
from cashier.sim.core import SimClock, SimState
from cashier.sim.demo import demo_profiles
from cashier.sim.server import SimServer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

SIGKILLED = -signal.SIGKILL


class Counter:
    def __init__(self, tmp_path: Path, sim: SimServer) -> None:
        self.sim = sim
        self.client = SimClient(sim.base_url)
        self.offset_file = tmp_path / "clock-offset"
        self.offset_file.write_text("0")
        self.env = {**os.environ, "CASHIER_CLOCK_OFFSET_FILE": str(self.offset_file)}
        self.env.pop("CASHIER_FAILPOINT", None)
        self.ledger_path = Path(os.environ["CASHIER_HOME"]) / "data" / "ledger.sqlite3"
        self.codes = iter(range(10**8, 10**9))
        for profile, secret in demo_profiles(sim.base_url):
            args = ["profile", "add", profile.gateway, "--gateway", profile.gateway, "--base-url", profile.base_url,
                    "--merchant-id", profile.merchant_id, "--key-stdin"]
            if profile.app_id:
                args += ["--app-id", profile.app_id]
            for key, value in profile.extra.items():
                args += ["--extra", f"{key}={value}"]
            self.run(*args, stdin=secret + "\n")

    # -- processes ---------------------------------------------------------------
    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "cashier.cli", *args]

    def run(self, *args: str, stdin: str | None = None, failpoint: str | None = None) -> subprocess.CompletedProcess:
        env = dict(self.env)
        if failpoint:
            env["CASHIER_FAILPOINT"] = failpoint
        return subprocess.run(self.argv(*args), input=stdin, capture_output=True, text=True, timeout=120, env=env)

    def start(self, *args: str, failpoint: str | None = None) -> subprocess.Popen:
        env = dict(self.env)
        if failpoint:
            env["CASHIER_FAILPOINT"] = failpoint
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def kill_when(self, proc: subprocess.Popen, condition, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=10)
                assert proc.returncode == SIGKILLED
                return
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"process ended before the kill: {proc.returncode}\n{out}\n{err}")
            time.sleep(0.02)
        proc.kill()
        raise AssertionError("condition never met")

    def recover(self, wait: float = 60) -> subprocess.CompletedProcess:
        """A fresh process: recovery runs at its start; `resume` settles everything."""
        proc = self.run("--json", "resume", "--wait", str(wait))
        assert proc.returncode in (0, 3), proc.stderr
        return proc

    def advance(self, seconds: float) -> None:
        self.offset_file.write_text(str(float(self.offset_file.read_text()) + seconds))

    # -- reading the ledger like an auditor ----------------------------------------------
    def ledger_orders(self) -> dict[str, dict]:
        with sqlite3.connect(f"file:{self.ledger_path}?mode=ro", uri=True) as conn:
            conn.row_factory = sqlite3.Row
            return {r["out_trade_no"]: dict(r) for r in conn.execute("SELECT * FROM orders")}

    def ledger_refunds(self) -> dict[str, dict]:
        with sqlite3.connect(f"file:{self.ledger_path}?mode=ro", uri=True) as conn:
            conn.row_factory = sqlite3.Row
            return {r["out_refund_no"]: dict(r) for r in conn.execute("SELECT * FROM refunds")}

    def state_of(self, out_trade_no: str) -> str | None:
        try:
            return self.ledger_orders().get(out_trade_no, {}).get("state")
        except sqlite3.Error:
            return None

    def latest_order(self) -> dict:
        orders = self.ledger_orders()
        return max(orders.values(), key=lambda o: (o["created_at"], o["out_trade_no"]))

    def state_of_latest(self) -> str | None:
        try:
            return self.latest_order()["state"]
        except (ValueError, sqlite3.Error):
            return None

    def wechat_code(self) -> str:
        return f"13{next(self.codes):016d}"

    def alipay_code(self) -> str:
        return f"28{next(self.codes):016d}"

    # -- the audit -----------------------------------------------------------------------
    def assert_books_agree(self) -> None:
        ledger = self.ledger_orders()
        refunds = self.ledger_refunds()
        sim = {(o["gateway"], o["out_trade_no"]): o for o in self.client.books()}
        # every order the gateway knows is in the ledger (nothing lost)
        ours = {o["out_trade_no"] for o in ledger.values()}
        for (gateway, no), o in sim.items():
            if gateway != "its500":
                assert no in ours, f"the gateway has {no}, the ledger lost it"
        for no, order in ledger.items():
            assert order["state"] in ("paid", "closed", "reversed", "failed", "expired"), (no, order["state"])
            theirs = sim.get((order["gateway"], no))
            charged = theirs is not None and theirs["status"] == "SUCCESS"
            assert (theirs or {}).get("charged", 0) <= 1, f"{no} charged twice"
            if order["state"] == "paid":
                assert charged, f"ledger says paid, gateway says {theirs and theirs['status']}"
                assert order["paid_amount_fen"] == int(Decimal(theirs["pay_amount"]) * 100)
            else:
                assert not charged, f"{no}: gateway charged the customer, ledger says {order['state']}"
        sim_refunds = {r["out_refund_no"]: (no, r) for (_, no), o in sim.items() for r in o["refunds"]}
        for no, refund in refunds.items():
            assert refund["state"] in ("succeeded", "failed"), (no, refund["state"])
            if refund["state"] == "succeeded":
                assert no in sim_refunds, f"ledger refund {no} unknown to the gateway"
                assert int(Decimal(sim_refunds[no][1]["amount"]) * 100) == refund["amount_fen"]
        for no, (trade, r) in sim_refunds.items():
            assert no in refunds, f"gateway refund {no} lost by the ledger"
        # no double refund: per order, what the gateway refunded never exceeds what was paid
        for (_, no), o in sim.items():
            assert Decimal(o["refunded"]) <= Decimal(o["pay_amount"])


@pytest.fixture
def counter(tmp_path):
    offset_clock = OffsetFileClock(str(tmp_path / "clock-offset"))
    (tmp_path / "clock-offset").write_text("0")
    with SimServer(SimState(SimClock(base=offset_clock.now))) as sim:
        c = Counter(tmp_path, sim)
        try:
            yield c
        finally:
            c.client.close()


# ------------------------------------------------------------------ payments


@pytest.mark.parametrize("gateway,method", [("ltzf", "wechat"), ("fengniao", "alipay"), ("epay", "alipay")])
def test_kill_after_order_written_before_send_qr(counter, gateway, method):
    proc = counter.run("pay", gateway, "--amount", "5.00", "--method", method, failpoint="after_order_written")
    assert proc.returncode == SIGKILLED
    order = counter.latest_order()
    assert order["state"] == "sending"
    assert counter.client.orders(gateway) == []  # the request never left
    counter.advance(301)  # past the QR's expiry: it can never be paid now
    counter.recover()
    assert counter.state_of(order["out_trade_no"]) in ("closed", "expired")
    counter.assert_books_agree()


@pytest.mark.parametrize("code", ["wechat", "alipay"])
def test_kill_after_order_written_before_send_micropay(counter, code):
    auth = counter.wechat_code() if code == "wechat" else counter.alipay_code()
    proc = counter.run("micropay", "fengniao", "--amount", "5.00", "--auth-code", auth,
                       failpoint="after_order_written")
    assert proc.returncode == SIGKILLED
    order = counter.latest_order()
    assert order["state"] == "sending" and order["auth_code_last4"] == auth[-4:]
    counter.advance(61)
    counter.recover()
    assert counter.state_of(order["out_trade_no"]) == "reversed"
    counter.assert_books_agree()


def test_kill_after_send_before_answer_micropay_paid(counter):
    """The customer was charged but the process died waiting for the answer."""
    counter.client.fault("delay", gateway="fengniao", op="micropay", when="after", seconds=8)
    proc = counter.start("micropay", "fengniao", "--amount", "7.50", "--auth-code", counter.wechat_code())
    counter.kill_when(proc, lambda: any(o["status"] == "SUCCESS" for o in counter.client.orders("fengniao")))
    order = counter.latest_order()
    assert order["state"] == "sending"
    counter.recover()
    assert counter.state_of(order["out_trade_no"]) == "paid"
    counter.assert_books_agree()


def test_kill_after_send_before_answer_qr(counter):
    counter.client.fault("delay", gateway="ltzf", op="create", when="after", seconds=8)
    proc = counter.start("pay", "ltzf", "--amount", "3.30", "--method", "alipay", "--wait", "30")
    counter.kill_when(proc, lambda: bool(counter.client.orders("ltzf")))
    order = counter.latest_order()
    assert order["state"] == "sending"
    counter.recover(wait=1)
    counter.advance(301)
    counter.recover(wait=1)
    counter.advance(1801)
    counter.recover(wait=1)
    assert counter.state_of(order["out_trade_no"]) in ("closed", "expired")
    counter.assert_books_agree()


def test_interrupted_pay_wait_resumes_on_next_start(counter):
    """`cashier-cli pay --wait` killed while polling; the customer pays meanwhile;
    the next start of any command finds the payment."""
    proc = counter.start("pay", "ltzf", "--amount", "12.00", "--method", "wechat", "--wait", "60")
    counter.kill_when(proc, lambda: counter.state_of_latest() == "pending")
    order = counter.latest_order()
    counter.client.pay("ltzf", order["out_trade_no"])
    counter.advance(6)
    nxt = counter.run("--json", "query", "ltzf", order["out_trade_no"])
    assert nxt.returncode == 0, nxt.stderr
    assert "继续处理" in nxt.stderr
    assert json.loads(nxt.stdout)["status"] == "paid"
    assert counter.state_of(order["out_trade_no"]) == "paid"
    counter.assert_books_agree()


def test_kill_during_micropay_polling(counter):
    counter.client.micropay_behaviour("password", seconds=8)
    proc = counter.start("micropay", "fengniao", "--amount", "9.00", "--auth-code", counter.alipay_code())
    counter.kill_when(proc, lambda: counter.state_of_latest() == "userpaying")
    order = counter.latest_order()
    counter.advance(9)
    counter.recover()
    assert counter.state_of(order["out_trade_no"]) == "paid"
    counter.assert_books_agree()


def test_kill_during_polling_never_paid_is_reversed_on_recovery(counter):
    counter.client.micropay_behaviour("never")
    proc = counter.start("micropay", "fengniao", "--amount", "9.00", "--auth-code", counter.wechat_code())
    counter.kill_when(proc, lambda: counter.state_of_latest() == "userpaying")
    order = counter.latest_order()
    counter.advance(31)
    counter.recover()
    assert counter.state_of(order["out_trade_no"]) == "reversed"
    assert counter.client.order("fengniao", order["out_trade_no"])["status"] == "REVOKED"
    counter.assert_books_agree()


def test_kill_after_reverse_written(counter):
    counter.client.micropay_behaviour("never")
    proc = counter.start("micropay", "fengniao", "--amount", "4.00", "--auth-code", counter.wechat_code(),
                         failpoint="after_reverse_written")
    deadline = time.monotonic() + 30
    while counter.state_of_latest() != "userpaying" and time.monotonic() < deadline:
        time.sleep(0.02)
    counter.advance(31)  # the deadline passes in the running process: it writes "reversing" and dies
    proc.communicate(timeout=30)
    assert proc.returncode == SIGKILLED
    order = counter.latest_order()
    assert order["state"] == "reversing"
    counter.recover()
    assert counter.state_of(order["out_trade_no"]) == "reversed"
    counter.assert_books_agree()


def test_kill_while_reverse_answer_is_in_flight(counter):
    counter.client.micropay_behaviour("never")
    # The simulated customer is mid-password: the first reverse answers recall=Y and
    # the second one revokes. Both answers are held back; the kill lands in the second.
    counter.client.fault("delay", gateway="fengniao", op="reverse", when="after", seconds=6, count=2)
    proc = counter.start("micropay", "fengniao", "--amount", "4.00", "--auth-code", counter.wechat_code())
    deadline = time.monotonic() + 30
    while counter.state_of_latest() != "userpaying" and time.monotonic() < deadline:
        time.sleep(0.02)
    counter.advance(31)
    counter.kill_when(proc, lambda: any(o["status"] == "REVOKED" for o in counter.client.orders("fengniao")))
    order = counter.latest_order()
    assert order["state"] == "reversing"
    counter.recover()
    assert counter.state_of(order["out_trade_no"]) == "reversed"
    counter.assert_books_agree()


# ------------------------------------------------------------------ refunds


def _paid(counter) -> str:
    proc = counter.run("--json", "micropay", "fengniao", "--amount", "10.00", "--auth-code", counter.wechat_code())
    out = json.loads(proc.stdout)
    assert out["status"] == "paid", proc.stderr
    return out["out_trade_no"]


def test_kill_after_refund_written(counter):
    no = _paid(counter)
    proc = counter.run("refund", "fengniao", no, "--amount", "3.00", failpoint="after_refund_written")
    assert proc.returncode == SIGKILLED
    (refund,) = counter.ledger_refunds().values()
    assert refund["state"] == "sending"
    counter.recover()
    (refund,) = counter.ledger_refunds().values()
    assert refund["state"] == "succeeded"
    counter.assert_books_agree()


def test_kill_while_refund_answer_is_in_flight(counter):
    no = _paid(counter)
    counter.client.fault("delay", gateway="fengniao", op="refund", when="after", seconds=8)
    proc = counter.start("refund", "fengniao", no, "--amount", "6.00")
    counter.kill_when(proc, lambda: counter.client.order("fengniao", no)["refunds"])
    counter.recover()
    (refund,) = counter.ledger_refunds().values()
    assert refund["state"] == "succeeded"
    assert len(counter.client.order("fengniao", no)["refunds"]) == 1
    counter.assert_books_agree()


def test_ltzf_refund_killed_before_send_is_sent_once(counter):
    proc = counter.start("pay", "ltzf", "--amount", "8.00", "--method", "alipay", "--wait", "30")
    counter.kill_when(proc, lambda: counter.state_of_latest() == "pending")
    no = counter.latest_order()["out_trade_no"]
    counter.client.pay("ltzf", no)
    counter.advance(6)
    counter.recover(wait=1)
    assert counter.state_of(no) == "paid"
    proc = counter.run("refund", "ltzf", no, "--amount", "8.00", failpoint="after_refund_written")
    assert proc.returncode == SIGKILLED
    for _ in range(4):  # LTZF: first refund query about a minute after, then one per 10 s
        counter.advance(61)
        counter.recover(wait=1)
    (refund,) = counter.ledger_refunds().values()
    assert refund["state"] == "succeeded"
    assert len(counter.client.order("ltzf", no)["refunds"]) == 1
    counter.assert_books_agree()
