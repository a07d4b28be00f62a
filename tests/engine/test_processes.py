"""Several real `cashier-cli` processes on one ledger, against the simulator.

Every command starts with recovery, so a second process used to take over an attempt
the first was still sending and both misreported it. Now each row in flight carries
its owner and a lease: recovery takes over only attempts whose owner is gone or whose
lease ran out, a process whose attempt was taken over reports the real outcome, and
the gateways' rate limits are slots in the ledger that every process respects.

Each test ends with the audit of the crash tests: ledger and simulator books equal,
nothing charged or refunded twice.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
import time
from decimal import Decimal

import pytest

from tests.engine.test_crash import Counter, counter  # noqa: F401  (the fixture)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP / SIGCONT")

# What a clerk must never see: a bare state-conflict error about an attempt that went through.
BARE_CONFLICT = ("预期", "expected")


def _json(proc_or_text) -> dict:
    text = getattr(proc_or_text, "stdout", proc_or_text)
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return json.loads(lines[0])


def _finish(proc, timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    assert "Traceback" not in err, err
    assert not any(word in err for word in BARE_CONFLICT), err
    return proc.returncode, out, err


def _events(counter: Counter, number: str) -> list[str]:
    with sqlite3.connect(f"file:{counter.ledger_path}?mode=ro", uri=True) as conn:
        return [r[0] for r in conn.execute("SELECT action FROM events WHERE entity_id = ? ORDER BY id", (number,))]


def _wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition never met")


def _sim_saw(counter: Counter, gateway: str, op: str) -> bool:
    with counter.sim.state.lock:
        return any(r.get("gateway") == gateway and r.get("op") == op for r in counter.sim.state.requests)


def _paid_micropay(counter: Counter, amount: str = "10.00") -> str:
    proc = counter.run("--json", "micropay", "fengniao", "--amount", amount, "--auth-code", counter.wechat_code())
    assert proc.returncode == 0, proc.stderr
    return _json(proc)["out_trade_no"]


def test_three_concurrent_micropays_with_slow_answers(counter):
    """Three charges at once, each answered 1.5 s late: every process starts with
    recovery while the others are mid-request. All three report paid, truthfully."""
    counter.client.fault("delay", gateway="fengniao", op="micropay", when="after", seconds=1.5, count=3)
    procs = []
    for _ in range(3):
        procs.append(counter.start("--json", "micropay", "fengniao", "--amount", "3.21",
                                   "--auth-code", counter.wechat_code()))
        time.sleep(0.3)
    numbers = []
    for proc in procs:
        code, out, err = _finish(proc)
        assert code == 0, err
        answer = json.loads(out)
        assert answer["status"] == "paid", answer
        numbers.append(answer["out_trade_no"])
    assert len(set(numbers)) == 3
    for no in numbers:
        assert counter.state_of(no) == "paid"
        assert "taken_over" not in _events(counter, no)  # nobody took over a live sender
    counter.assert_books_agree()


def test_resume_during_a_slow_answer_leaves_the_live_attempt_alone(counter):
    counter.client.fault("delay", gateway="fengniao", op="micropay", when="after", seconds=3.0)
    pay = counter.start("--json", "micropay", "fengniao", "--amount", "4.56", "--auth-code", counter.wechat_code())
    _wait_for(lambda: counter.state_of_latest() == "sending")
    resume = counter.run("--json", "resume", "--wait", "1")
    assert resume.returncode in (0, 3), resume.stderr
    assert "Traceback" not in resume.stderr
    code, out, _ = _finish(pay)
    answer = json.loads(out)
    assert code == 0 and answer["status"] == "paid", answer
    assert "taken_over" not in _events(counter, answer["out_trade_no"])
    counter.assert_books_agree()


def test_a_frozen_sender_is_taken_over_and_still_reports_the_real_outcome(counter):
    """The sender freezes (SIGSTOP) past its lease; `resume` takes the attempt over,
    queries it and books it paid. Thawed, the sender finds its attempt taken over and
    reports what the ledger now knows: paid, never a bare error."""
    counter.client.fault("delay", gateway="fengniao", op="micropay", when="after", seconds=1.0)
    pay = counter.start("--json", "micropay", "fengniao", "--amount", "7.89", "--auth-code", counter.wechat_code())
    try:
        _wait_for(lambda: _sim_saw(counter, "fengniao", "micropay"))  # charged; the answer is on its way
        pay.send_signal(signal.SIGSTOP)
        no = counter.latest_order()["out_trade_no"]
        counter.advance(45)  # the sender's 30 s lease has run out (its pid is alive: only the lease says so)
        resume = counter.run("--json", "resume", "--wait", "20")
        assert resume.returncode == 0, resume.stderr
        assert counter.state_of(no) == "paid"
        assert "taken_over" in _events(counter, no)
    finally:
        pay.send_signal(signal.SIGCONT)
    code, out, err = _finish(pay)
    answer = json.loads(out)
    assert code == 0 and answer["status"] == "paid" and answer["out_trade_no"] == no, (answer, err)
    counter.assert_books_agree()


def test_a_sender_frozen_before_its_request_left_never_sends_it(counter):
    """Frozen after writing the attempt, before sending it: `resume` takes it over,
    finds nothing at the gateway and settles it once the deadline passed. Thawed, the
    sender sees the attempt is no longer its own and does not send: nobody is charged
    for an order the books call reversed."""
    pay = counter.start("--json", "micropay", "fengniao", "--amount", "6.54", "--auth-code", counter.wechat_code(),
                        failpoint="after_order_written:stop")
    try:
        _wait_for(lambda: counter.state_of_latest() == "sending")
        time.sleep(0.2)  # (it stops itself right after the write)
        no = counter.latest_order()["out_trade_no"]
        counter.advance(45)  # lease and micropay deadline both over
        resume = counter.run("--json", "resume", "--wait", "20")
        assert resume.returncode in (0, 3), resume.stderr
        assert counter.state_of(no) == "reversed"
    finally:
        pay.send_signal(signal.SIGCONT)
    code, out, err = _finish(pay)
    answer = json.loads(out)
    assert answer["out_trade_no"] == no and answer["status"] == "reversed", (answer, err)
    assert code == 3  # not paid, and said so
    assert not _sim_saw(counter, "fengniao", "micropay")  # the request never left
    counter.assert_books_agree()


def _paid_qr(counter: Counter, gateway: str, amount: str = "10.00") -> str:
    no = _json(counter.run("--json", "pay", gateway, "--amount", amount, "--method", "alipay"))["out_trade_no"]
    counter.client.pay(gateway, no)
    assert _json(counter.run("--json", "query", gateway, no))["status"] == "paid"
    return no


@pytest.mark.parametrize("gateway", ["fengniao", "epay"])
def test_refund_races_refund_nothing_twice_and_report_truthfully(counter, gateway):
    """Three refunds of 4.00 on a 10.00 order at once, answers 1 s late: two fit, the
    third is refused by the ledger before anything is sent. Every process says what
    happened to its own refund (epay: the ledger used to show nothing refunded while
    the site had refunded)."""
    no = _paid_micropay(counter) if gateway == "fengniao" else _paid_qr(counter, gateway)
    counter.client.fault("delay", gateway=gateway, op="refund", when="after", seconds=1.0, count=3)
    procs = []
    for _ in range(3):
        procs.append(counter.start("--json", "refund", gateway, no, "--amount", "4.00"))
        time.sleep(0.2)
    outcomes = []
    for proc in procs:
        code, out, err = _finish(proc)
        outcomes.append((code, _json(out)))
    succeeded = [a for code, a in outcomes if code == 0]
    refused = [a for code, a in outcomes if code != 0]
    assert len(succeeded) == 2 and len(refused) == 1, outcomes
    assert all(a["status"] == "succeeded" for a in succeeded), outcomes
    assert "6.00" in refused[0]["error"] or "可退" in refused[0]["error"], refused
    refunds = counter.ledger_refunds()
    assert sorted(r["state"] for r in refunds.values()) == ["succeeded", "succeeded"]
    sim_order = counter.client.order(gateway, no)
    assert Decimal(sim_order["refunded"]) == Decimal("8.00")  # what the ledger says succeeded, no more
    if gateway != "epay":  # epay refunds carry no number of ours: compared by sum above
        counter.assert_books_agree()


@pytest.mark.slow
def test_queries_from_many_processes_keep_the_merchants_rate_limits(counter):
    """LTZF allows one order query per 5 s and one refund query per 10 s per merchant.
    Two `query` processes and a `refund-query` at once (each also resumes the open
    orders at its start): the simulator never sees
    two of a kind closer than that (it would answer "请求过于频繁")."""
    pay = counter.run("--json", "pay", "ltzf", "--amount", "2.00", "--method", "alipay")
    assert pay.returncode == 0, pay.stderr
    no = _json(pay)["out_trade_no"]
    counter.client.pay("ltzf", no)
    done = counter.run("--json", "query", "ltzf", no)
    assert _json(done)["status"] == "paid"
    counter.client.refund_behaviour(delay=600)  # the refund stays "processing" while it is asked about
    refund = counter.run("--json", "refund", "ltzf", no, "--amount", "0.50")
    assert refund.returncode == 0, refund.stderr
    out_refund_no = _json(refund)["out_refund_no"]
    waiting = _json(counter.run("--json", "pay", "ltzf", "--amount", "3.00", "--method", "wechat"))["out_trade_no"]
    started = time.monotonic()
    procs = [counter.start("--json", "query", "ltzf", waiting) for _ in range(2)]
    procs.append(counter.start("--json", "refund-query", "ltzf", out_refund_no))
    for proc in procs:
        code, out, err = _finish(proc, timeout=90)
        assert code == 0, err
    elapsed = time.monotonic() - started
    with counter.sim.state.lock:
        seen = [r for r in counter.sim.state.requests if r.get("gateway") == "ltzf"]
    for op, limit in (("query", 5.0), ("refund_query", 10.0)):
        times = sorted(r["at"] for r in seen if r["op"] == op)
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert gaps and min(gaps) >= limit, (op, gaps)
        print(f"\n{op}: {len(times)} at the simulator, gaps {', '.join(f'{g:.2f}' for g in gaps)} s")
    print(f"3 processes, {len(seen)} LTZF requests in {elapsed:.1f} s")
