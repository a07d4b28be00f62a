"""Several counters on one shared PostgreSQL ledger, each an engine of its own (with
its own counter id, process identity and connection pool), against one simulator and
one fake clock: numbers, who follows which order, takeover after a counter's lease,
refunds across counters, the shared rate limit as the simulator sees it, reports per
counter."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from cashier.engine import Engine, EngineSettings
from cashier.gateways import build_gateway
from cashier.gateways.base import Method
from cashier.ledger import Ledger
from cashier.ledger import states as S


@pytest.fixture
def ledger_target(pg_url):
    return pg_url


class Counters:
    def __init__(self, env) -> None:
        self.env = env
        self.engines: dict[str, Engine] = {}

    def open(self, counter_id: str) -> Engine:
        env = self.env
        gateways = {p.name: build_gateway(p, s) for p, s in env.pairs.values()}
        ledger = Ledger(env.ledger_path, clock=env.clock.now)
        engine = Engine(ledger, gateways, settings=EngineSettings(counter_id=counter_id), clock=env.clock,
                        owner=f"counter-{counter_id}-host/{len(self.engines) + 1000}/t")
        self.engines[counter_id] = engine
        return engine

    def close(self, counter_id: str, *, cleanly: bool = True) -> None:
        engine = self.engines.pop(counter_id)
        if cleanly:
            engine.stop()
        else:  # a dead counter: it never says goodbye, its lease just runs out
            engine._leases.stop()
        for name in engine.profiles():
            engine.gateway(name).close_transport()
        engine.ledger.close()

    def close_all(self) -> None:
        for counter_id in list(self.engines):
            self.close(counter_id)


@pytest.fixture
def counters(env):
    made = Counters(env)
    yield made
    made.close_all()


def test_numbers_never_collide_between_racing_counters(env, counters):
    """Four counters (two of them given the same id by mistake) take orders at once,
    in the same seconds: every number is new, and carries its counter's id."""
    engines = [counters.open(c) for c in ("A1", "B2", "C3")] + [counters.open("C3x")]
    engines[3].settings = EngineSettings(counter_id="C3")  # the same id as another counter
    numbers: list[tuple[str, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(engines))
    profile = env.profile("fengniao")

    def sell(engine: Engine) -> None:
        barrier.wait()
        for _ in range(8):
            order = engine.start_qr(profile, Decimal("1.00"), Method.WECHAT)
            with lock:
                numbers.append((engine.settings.counter_id, order.out_trade_no))

    threads = [threading.Thread(target=sell, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(numbers) == 32
    assert len({no for _, no in numbers}) == 32
    for counter_id, no in numbers:
        assert no.startswith("P" + counter_id) and no[len(counter_id) + 1:].isdigit()
    assert len({o["out_trade_no"] for o in env.sim_client.orders("fengniao")}) == 32


def test_each_counter_follows_its_own_and_takes_over_a_dead_one(env, counters):
    a, b = counters.open("A1"), counters.open("B2")
    profile = env.profile("fengniao")
    mine = a.start_qr(profile, Decimal("2.00"), Method.WECHAT)
    assert mine.state == S.PENDING
    env.sim_client.pay("fengniao", mine.out_trade_no)
    env.advance(10)
    b.run_due()  # A1 is alive: B2 leaves A1's order alone
    assert a.order(mine.out_trade_no).state == S.PENDING
    assert not [e for e in a.ledger.events(mine.out_trade_no) if e.actor != "clerk" and e.new_state == S.PAID]
    a.run_due()
    assert a.order(mine.out_trade_no).state == S.PAID

    # A1 dies with an order open: after its lease (30 s) B2 follows it, exactly once.
    open_one = a.start_qr(profile, Decimal("3.00"), Method.WECHAT)
    counters.close("A1", cleanly=False)
    env.sim_client.pay("fengniao", open_one.out_trade_no)
    env.advance(5)
    b.run_due()
    assert b.order(open_one.out_trade_no).state == S.PENDING  # the lease still runs
    env.advance(30)
    b.run_due()
    assert b.order(open_one.out_trade_no).state == S.PAID
    queries = [r for r in env.sim.state.requests if r.get("op") == "query"
               and r.get("out_trade_no") in (None, open_one.out_trade_no)]
    assert queries, env.sim.state.requests[-3:]


def test_refund_at_another_counter_and_reports_per_counter(env, counters):
    a, b = counters.open("A1"), counters.open("B2")
    profile = env.profile("fengniao")
    sold = a.start_micropay(profile, Decimal("20.00"), "134567890123456789")
    assert sold.state == S.PAID
    refund = b.refund(sold.out_trade_no, Decimal("5.00"), "退货", actor="店长")
    assert refund.out_refund_no.startswith("RB2") and refund.counter_id == "B2"
    for _ in range(30):
        if b.ledger.get_refund(refund.out_refund_no).state in S.FINAL_REFUND_STATES:
            break
        env.advance(5)
        b.run_due()
    assert b.ledger.get_refund(refund.out_refund_no).state == S.REFUND_SUCCEEDED
    assert a.refundable(sold.out_trade_no) == Decimal("15.00")

    import datetime

    sale_day = datetime.date.fromtimestamp(a.order(sold.out_trade_no).paid_at)
    refund_day = datetime.date.fromtimestamp(b.ledger.get_refund(refund.out_refund_no).finished_at)
    days = {sale_day, refund_day}

    def totals(counter_id=None):
        reports = [a.ledger.daily_report(day, counter_id=counter_id) for day in days]
        return (sum((r.totals.paid_sum for r in reports), Decimal("0")),
                sum((r.totals.refund_sum for r in reports), Decimal("0")))

    assert totals() == (Decimal("20.00"), Decimal("5.00"))  # the whole shop
    assert totals("A1") == (Decimal("20.00"), Decimal("0"))  # A1 sold it
    assert totals("B2") == (Decimal("0"), Decimal("5.00"))  # B2 gave money back
    at_b = b.ledger.daily_report(refund_day, counter_id="B2")
    assert at_b.to_dict()["counter_id"] == "B2"


def test_ten_counters_share_one_merchants_query_limit(env, counters):
    """Ten counters, each with an LTZF order open on the same merchant, run their
    schedulers for two (fake) minutes: the simulator sees at most one order query per
    5 s, and never one refused as too frequent."""
    engines = [counters.open(f"K{i}") for i in range(10)]
    profile = env.profile("ltzf")
    for engine in engines:
        engine.start_qr(profile, Decimal("1.00"), Method.WECHAT)
    start = env.clock.now()
    env.sim.state.rate_log.clear()
    for _ in range(120):
        for engine in engines:
            engine.run_due()
        env.advance(1)
    queries = [(t, ok) for g, _m, op, t, ok in env.sim.state.rate_log if g == "ltzf" and op == "query"]
    assert queries and all(ok for _, ok in queries), queries
    times = sorted(t for t, _ in queries)
    assert all(later - earlier >= 5 for earlier, later in zip(times, times[1:])), times
    assert len(times) <= (env.clock.now() - start) / 5 + 1
    assert len(times) >= 10  # and the shared slot is used, not starved


class Cable:
    """A TCP forwarder on 127.0.0.1 between the counter and the database server that a
    test can unplug (every connection cut, new ones refused) and plug back in."""

    def __init__(self, host: str, port: int) -> None:
        import socket

        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.plugged = True
        self.pairs: list = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.plugged:
                client.close()
                continue
            server = socket.create_connection(self.target)
            with self.lock:
                self.pairs.append((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def unplug(self) -> None:
        import socket

        self.plugged = False
        with self.lock:
            for pair in self.pairs:
                for s in pair:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
            self.pairs.clear()

    def plug(self) -> None:
        self.plugged = True

    def close(self) -> None:
        self.unplug()
        self.listener.close()


@pytest.mark.slow  # ~25 s: each write while unplugged waits out the pool's 5 s
def test_offline_counter_refuses_new_payments_and_finishes_in_flight_ones(env, counters, pg_url):
    """The database goes away mid-shift: a new payment is refused with a plain message
    (nothing is sent: it could not be written first); an order already shown keeps
    being followed and its payment is written once the database is back."""
    from urllib.parse import urlsplit

    from cashier.ledger.errors import LedgerUnreachable

    parts = urlsplit(pg_url)
    cable = Cable(parts.hostname, parts.port or 5432)
    try:
        env.ledger_path = pg_url.replace(f"{parts.hostname}:{parts.port or 5432}", f"127.0.0.1:{cable.port}", 1)
        a = counters.open("A1")
        profile = env.profile("fengniao")
        shown = a.start_qr(profile, Decimal("6.00"), Method.WECHAT)
        env.sim_client.pay("fengniao", shown.out_trade_no)
        cable.unplug()
        sent_before = len(env.sim_client.orders("fengniao"))
        with pytest.raises(LedgerUnreachable) as caught:
            a.start_qr(profile, Decimal("7.00"), Method.WECHAT)
        assert "不能收新的款" in caught.value.message("zh_CN")
        assert "no new payments" in caught.value.message("en") and "127.0.0.1" in caught.value.message("en")
        assert len(env.sim_client.orders("fengniao")) == sent_before  # nothing left for the gateway
        env.advance(10)
        a.run_due()  # the query may go out; its answer cannot be written: nothing is lost
        cable.plug()
        for _ in range(10):
            env.advance(5)
            a.run_due()
            if a.order(shown.out_trade_no).state == S.PAID:
                break
        assert a.order(shown.out_trade_no).state == S.PAID
    finally:
        cable.close()
