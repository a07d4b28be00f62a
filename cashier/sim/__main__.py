"""`python -m cashier.sim [--port N]`: run the simulator until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys

from cashier.sim.demo import DEMO_MERCHANTS
from cashier.sim.server import SimServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cashier.sim", description="Embedded payment gateway simulator")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    args = parser.parse_args(argv)
    server = SimServer(port=args.port)
    print(server.base_url, flush=True)
    for m in DEMO_MERCHANTS:
        print(f"  {m.gateway:9} {server.gateway_url(m.gateway)}  merchant_id={m.merchant_id}"
              + (f" app_id={m.app_id}" if m.app_id else ""), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
