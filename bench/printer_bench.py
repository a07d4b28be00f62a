"""Does a receipt printer slow a payment? Payments through the engine against the
simulator (real HTTP on 127.0.0.1, a real SQLite ledger), with auto-print:

    off          no printer configured
    up           a network printer on 127.0.0.1 that takes the bytes
    down         a printer address where nothing listens (printer off / unplugged)

    python bench/printer_bench.py              # 30 payments per case
    python bench/printer_bench.py --payments 100

Prints, per case, the median and 90th percentile time from "start the QR" to "the
ledger says paid" (create, customer pays, the engine's query), and how many receipts
were printed or left in the queue. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cashier.engine import Engine, EngineSettings, FakeClock  # noqa: E402
from cashier.gateways import build_gateway  # noqa: E402
from cashier.gateways.base import Method  # noqa: E402
from cashier.ledger import Ledger  # noqa: E402
from cashier.peripherals import Peripherals  # noqa: E402
from cashier.peripherals.spooler import Spooler  # noqa: E402
from cashier.settings import Settings  # noqa: E402
from cashier.sim.client import SimClient  # noqa: E402
from cashier.sim.demo import demo_profiles  # noqa: E402
from cashier.sim.server import SimServer  # noqa: E402
from tests.peripherals.conftest import FakePrinter, free_port  # noqa: E402


def run_case(name: str, printer_url: str, payments: int, folder: Path) -> tuple[list[float], int, int]:
    with SimServer() as sim, SimClient(sim.base_url) as client:
        pairs = {p.gateway: (p, s) for p, s in demo_profiles(sim.base_url)}
        profile, secret = pairs["fengniao"]  # no per-merchant query limit: the engine asks at once
        # The engine's own clock jumps a minute between payments, so the merchant's
        # query spacing never makes one wait: the wall time measured is the work.
        clock = FakeClock(start=time.time())
        ledger = Ledger(folder / f"{name}.sqlite3", clock=clock.now)
        engine = Engine(ledger, {profile.name: build_gateway(profile, secret)}, settings=EngineSettings(),
                        clock=clock)
        settings = Settings(auto_print=bool(printer_url), printer_url=printer_url)
        spooler = Spooler.for_settings(settings, path=folder / f"{name}-queue.json", retry_seconds=3600).start()
        devices = Peripherals(settings, spooler=spooler, lookup_order=engine.order, clock=clock.now)
        engine.subscribe(devices.on_engine_event)
        times = []
        for _ in range(payments):
            clock.advance(60)
            t0 = time.perf_counter()
            order = engine.start_qr(profile.name, Decimal("12.50"), Method.ALIPAY)
            client.pay("fengniao", order.out_trade_no)
            paid = engine.check(order.out_trade_no)
            times.append(time.perf_counter() - t0)
            assert paid.state == "paid", paid.state
        spooler.retry()
        spooler.wait_idle(30)
        waiting = len(spooler.pending())
        spooler.stop()
        engine.gateway(profile.name).close_transport()
        ledger.close()
        return times, payments - waiting if printer_url else 0, waiting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=30)
    args = parser.parse_args()
    printer = FakePrinter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cases = [("off", ""), ("up", printer.url), ("down", f"tcp://127.0.0.1:{free_port()}")]
            print(f"{'printer':8} {'median ms':>10} {'p90 ms':>8} {'printed':>8} {'queued':>7}")
            for name, url in cases:
                times, printed, queued = run_case(name, url, args.payments, Path(tmp))
                ms = sorted(t * 1000 for t in times)
                p90 = ms[int(len(ms) * 0.9) - 1]
                print(f"{name:8} {statistics.median(ms):10.1f} {p90:8.1f} {printed:8} {queued:7}")
    finally:
        printer.close()


if __name__ == "__main__":
    main()
