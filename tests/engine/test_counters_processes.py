"""Several counters as real `cashier-cli` processes, each with its own home (settings,
profiles, keyring) and counter id, on one shared PostgreSQL ledger, against one
simulator: sales and refunds at once, refunds across counters, a counter SIGKILLed
mid-payment and taken over by another once its lease ran out, the shared query limit
measured at the simulator. Each test ends with the crash tests' audit: the ledger's
books equal the simulator's, nothing charged or refunded twice, no number twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cashier.engine.clock import OffsetFileClock
from cashier.sim.client import SimClient
from cashier.sim.core import SimClock, SimState
from cashier.sim.demo import demo_profiles
from cashier.sim.server import SimServer
from tests.engine.test_crash import Counter

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")]


class Shop:
    """The counters of one shop and an auditor's view of the shared ledger."""

    def __init__(self, tmp_path: Path, sim: SimServer, url: str, offset_file: Path) -> None:
        self.sim = sim
        self.client = SimClient(sim.base_url)
        self.url = url
        self.tmp_path = tmp_path
        self.offset_file = offset_file
        self.homes: dict[str, dict] = {}
        self.codes = iter(range(10**8, 10**9))

    def add_counter(self, counter_id: str) -> None:
        home = self.tmp_path / f"counter-{counter_id}"
        env = {**os.environ, "CASHIER_HOME": str(home), "CASHIER_LEDGER_URL": self.url,
               "CASHIER_TEST_KEYRING_FILE": str(home / "keyring.json"),
               "CASHIER_CLOCK_OFFSET_FILE": str(self.offset_file)}
        env.pop("CASHIER_FAILPOINT", None)
        self.homes[counter_id] = env
        self.run(counter_id, "config", "set", "counter_id", counter_id, check=True)
        for profile, secret in demo_profiles(self.sim.base_url):
            if profile.gateway not in ("fengniao", "ltzf"):
                continue
            args = ["profile", "add", profile.gateway, "--gateway", profile.gateway, "--base-url",
                    profile.base_url, "--merchant-id", profile.merchant_id, "--key-stdin"]
            if profile.app_id:
                args += ["--app-id", profile.app_id]
            for key, value in profile.extra.items():
                args += ["--extra", f"{key}={value}"]
            self.run(counter_id, *args, stdin=secret + "\n", check=True)

    def start(self, counter_id: str, *args: str, failpoint: str | None = None) -> subprocess.Popen:
        env = dict(self.homes[counter_id])
        if failpoint:
            env["CASHIER_FAILPOINT"] = failpoint
        return subprocess.Popen([sys.executable, "-m", "cashier.cli", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.PIPE, text=True, env=env)

    def run(self, counter_id: str, *args: str, stdin: str | None = None, check: bool = False,
            failpoint: str | None = None) -> subprocess.CompletedProcess:
        proc = self.start(counter_id, *args, failpoint=failpoint)
        out, err = proc.communicate(stdin, timeout=120)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        assert "Traceback" not in err, err
        if check:
            assert proc.returncode == 0, err
        return done

    def advance(self, seconds: float) -> None:
        self.offset_file.write_text(str(float(self.offset_file.read_text()) + seconds))

    def wechat_code(self) -> str:
        return f"13{next(self.codes):016d}"

    # -- the auditor (Counter.assert_books_agree reads these) -----------------------
    def _rows(self, table: str) -> list[dict]:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.url, row_factory=dict_row) as conn:
            return list(conn.execute(f"SELECT * FROM {table}"))

    def ledger_orders(self) -> dict[str, dict]:
        return {r["out_trade_no"]: r for r in self._rows("orders")}

    def ledger_refunds(self) -> dict[str, dict]:
        return {r["out_refund_no"]: r for r in self._rows("refunds")}

    def assert_books_agree(self) -> None:
        Counter.assert_books_agree(self)  # the crash tests' audit, on the shared ledger
        numbers = [o["out_trade_no"] for o in self.client.books()]
        assert len(numbers) == len(set(numbers)), "a number was used twice"
        for no, order in self.ledger_orders().items():
            assert no.startswith("P" + order["counter_id"]), (no, order["counter_id"])


@pytest.fixture
def shop(tmp_path, pg_url):
    offset_file = tmp_path / "clock-offset"
    offset_file.write_text("0")
    with SimServer(SimState(SimClock(base=OffsetFileClock(str(offset_file)).now))) as sim:
        made = Shop(tmp_path, sim, pg_url, offset_file)
        try:
            yield made
        finally:
            made.client.close()


def _answer(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_counters_sell_and_refund_each_others_orders_at_once(shop):
    counters = ("A1", "B2", "C3")
    for counter_id in counters:
        shop.add_counter(counter_id)
    sales = [shop.start(c, "--json", "micropay", "fengniao", "--amount", f"{10 + i}.00",
                        "--auth-code", shop.wechat_code()) for i, c in enumerate(counters * 2)]
    sold = [_answer(p) for p in sales]
    assert [s["status"] for s in sold] == ["paid"] * 6
    assert [s["out_trade_no"][:3] for s in sold] == ["PA1", "PB2", "PC3"] * 2
    # every counter refunds an order another counter took, all at once
    refunds = [shop.start(counters[(i + 1) % 3], "--json", "refund", "fengniao", s["out_trade_no"],
                          "--amount", "3.00", "--wait", "30") for i, s in enumerate(sold)]
    done = [_answer(p) for p in refunds]
    assert [r["status"] for r in done] == ["succeeded"] * 6
    for i, r in enumerate(done):
        assert r["out_refund_no"].startswith("R" + counters[(i + 1) % 3])
    shop.assert_books_agree()
    report = json.loads(shop.run("A1", "--json", "report").stdout)
    assert report["counter_id"] is None and report["totals"]["paid_count"] == 6
    assert report["totals"]["refund_sum"] == "18.00"
    for counter_id, clerk in (("A1", "小王"), ("B2", "小李")):
        shop.run(counter_id, "shift", "open", "--clerk", clerk, check=True)
    listed = json.loads(shop.run("C3", "--json", "shift", "list").stdout)
    assert sorted(s["counter_id"] for s in listed["shifts"]) == ["A1", "B2"]
    only = json.loads(shop.run("C3", "--json", "shift", "list", "--counter", "B2").stdout)
    assert [(s["counter_id"], s["clerk"]) for s in only["shifts"]] == [("B2", "小李")]
    own = json.loads(shop.run("B2", "--json", "report", "--counter", "B2").stdout)
    assert own["counter_id"] == "B2" and own["totals"]["paid_count"] == 2
    assert own["totals"]["refund_count"] == 2


def test_a_killed_counters_payment_is_taken_over_after_its_lease(shop):
    shop.add_counter("A1")
    shop.add_counter("B2")
    killed = shop.run("B2", "micropay", "fengniao", "--amount", "8.00", "--auth-code", shop.wechat_code(),
                      failpoint="after_order_written")
    assert killed.returncode == -signal.SIGKILL
    (number, order), = shop.ledger_orders().items()
    assert order["state"] == "sending" and number.startswith("PB2")
    # A1 starts at once: B2's lease still runs, so A1 leaves the attempt alone
    first = shop.run("A1", "--json", "resume", "--wait", "2")
    assert shop.ledger_orders()[number]["state"] == "sending", first.stderr
    # once B2's lease (30 s) has run out A1 takes it over and settles it, alone
    shop.advance(31)
    shop.advance(31)
    settled = shop.run("A1", "--json", "resume", "--wait", "60")
    assert settled.returncode == 0, settled.stderr
    assert shop.ledger_orders()[number]["state"] in ("reversed", "closed", "failed")
    actions = [r["action"] for r in shop._rows("events") if r["entity_id"] == number]
    assert actions.count("recovered") == 1, actions
    shop.assert_books_agree()


def test_counters_share_one_merchants_query_limit(shop):
    """Three counters wait for LTZF QR payments at once: the simulator sees at most
    one order query per 5 s from all of them together, never one refused."""
    for counter_id in ("A1", "B2", "C3"):
        shop.add_counter(counter_id)
    shop.sim.state.rate_log.clear()
    started = time.monotonic()
    waits = [shop.start(c, "--json", "pay", "ltzf", "--amount", "1.00", "--method", "wechat", "--wait", "12")
             for c in ("A1", "B2", "C3")]
    for proc in waits:
        out, err = proc.communicate(timeout=120)
        assert "Traceback" not in err and proc.returncode == 3, err  # not paid within the wait
    elapsed = time.monotonic() - started
    queries = [(t, ok) for g, _m, op, t, ok in shop.sim.state.rate_log if g == "ltzf" and op == "query"]
    assert queries and all(ok for _, ok in queries), queries
    times = sorted(t for t, _ in queries)
    assert all(b - a >= 5 - 1e-6 for a, b in zip(times, times[1:])), times
    assert len(times) <= elapsed / 5 + 1
