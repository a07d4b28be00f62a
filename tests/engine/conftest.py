"""Engine fixtures: a real simulator, a real ledger, one fake clock for all.

The ledger is a SQLite file unless a test module overrides `ledger_target` (the
engine-flow suite takes `books`: each flow on SQLite, then on PostgreSQL).

The simulator's clock, the ledger's stamps and the engine all read the same
FakeClock, so a test jumps time (expiry, the micropay deadline, refund spacing)
instead of sleeping.
"""

from __future__ import annotations

import pytest

from cashier.engine import Engine, EngineSettings, FakeClock
from cashier.gateways import build_gateway
from cashier.ledger import Ledger
from cashier.sim.client import SimClient
from cashier.sim.core import SimClock, SimState
from cashier.sim.demo import demo_profiles
from cashier.sim.server import SimServer


class Env:
    def __init__(self, tmp_path, clock: FakeClock, sim: SimServer, ledger_target=None) -> None:
        self.tmp_path = tmp_path
        self.clock = clock
        self.sim = sim
        self.sim_client = SimClient(sim.base_url)
        self.pairs = {p.gateway: (p, s) for p, s in demo_profiles(sim.base_url)}
        self.ledger_path = ledger_target or tmp_path / "ledger.sqlite3"
        self.events = []
        self.engine = self.make_engine()

    def profile(self, gateway: str) -> str:
        return self.pairs[gateway][0].name

    def make_engine(self, settings: EngineSettings | None = None) -> Engine:
        gateways = {p.name: build_gateway(p, s) for p, s in self.pairs.values()}
        ledger = Ledger(self.ledger_path, clock=self.clock.now)
        engine = Engine(ledger, gateways, settings=settings or EngineSettings(), clock=self.clock)
        engine.subscribe(self.events.append)
        return engine

    def restart(self, settings: EngineSettings | None = None) -> Engine:
        """Drop the engine (as a crash would, minus the crash) and build a fresh one
        over the same ledger file."""
        for name in self.engine.profiles():
            self.engine.gateway(name).close_transport()
        self.engine.ledger.close()
        self.engine = self.make_engine(settings)
        return self.engine

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def run(self, seconds: float, step: float = 1.0) -> None:
        """Let `seconds` of fake time pass, running the scheduler as it would."""
        elapsed = 0.0
        while elapsed < seconds:
            self.engine.run_due()
            self.clock.advance(step)
            elapsed += step
        self.engine.run_due()

    def run_until(self, out_trade_no: str, states: set[str], limit: float = 600.0, step: float = 1.0):
        elapsed = 0.0
        while elapsed <= limit:
            self.engine.run_due()
            order = self.engine.order(out_trade_no)
            if order.state in states:
                return order
            self.clock.advance(step)
            elapsed += step
        raise AssertionError(f"{out_trade_no} still {self.engine.order(out_trade_no).state} after {limit}s")

    def sim_order(self, gateway: str, out_trade_no: str) -> dict:
        return self.sim_client.order(gateway, out_trade_no)

    def close(self) -> None:
        for name in self.engine.profiles():
            self.engine.gateway(name).close_transport()
        self.engine.ledger.close()
        self.sim_client.close()


@pytest.fixture
def ledger_target(tmp_path):
    """Where the engine's ledger lives (a module may override this fixture)."""
    return tmp_path / "ledger.sqlite3"


@pytest.fixture
def env(tmp_path, ledger_target):
    clock = FakeClock(start=1_790_000_000.0)
    state = SimState(SimClock(base=clock.now))
    with SimServer(state) as sim:
        e = Env(tmp_path, clock, sim, ledger_target)
        try:
            yield e
        finally:
            e.close()
