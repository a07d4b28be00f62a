"""Hostile gateway benchmark: how the gateway HTTP layer holds against a site on
127.0.0.1 that drips its answer one byte at a time, sends 50 MB, or a gzip bomb.

    python bench/hostile_bench.py                 # deadline 2 s
    python bench/hostile_bench.py --deadline 5

Prints, per case, how long the request took, what it ended with, and how much the
process's peak resident memory grew while it ran (Linux/macOS: resource.getrusage).
Asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cashier.gateways.base import GatewayError  # noqa: E402
from cashier.gateways.http import GatewayHttp  # noqa: E402
from cashier.redaction import redact_runs  # noqa: E402
from tests.gateways.hostile import HostileServer, answer, endless_body, head, slow_body, slow_headers  # noqa: E402


def peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def fifty_mb(conn) -> None:
    block = b"x" * 65536
    conn.send(head(length=800 * len(block)))
    for _ in range(800):
        if not conn.send(block):
            return


def main() -> None:
    import logging

    logging.getLogger("cashier").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", type=float, default=2.0)
    args = parser.parse_args()
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip, built without 50 MB in memory
    parts = [packer.compress(b'{"pad": "')]
    parts += [packer.compress(b"0" * 1_000_000) for _ in range(50)]
    bomb = b"".join(parts) + packer.compress(b'"}') + packer.flush()

    def gzip_bomb(conn) -> None:
        conn.send(head(length=len(bomb), extra="Content-Encoding: gzip") + bomb)

    def fifty_mb_undeclared(conn) -> None:
        endless_body()(conn)

    cases = [
        ("slow headers, 20 bytes/s", slow_headers(0.05)),
        ("slow body, 20 bytes/s", slow_body(0.05)),
        ("50 MB answer, length declared", fifty_mb),
        ("endless answer, no length", fifty_mb_undeclared),
        (f"gzip bomb ({len(bomb) // 1024} kB -> 50 MB)", gzip_bomb),
        ("JSON nested 100,000 deep", answer("[" * 100_000)),
    ]
    print(f"python {sys.version.split()[0]}, deadline {args.deadline} s, answer cap 1 MiB")
    print(f"{'case':<36} {'seconds':>8} {'peak RSS +MB':>13}  outcome")
    for name, script in cases:
        with HostileServer(script) as server:
            http = GatewayHttp(server.base_url, deadline=args.deadline)
            before = peak_rss_mb()
            started = time.monotonic()
            try:
                http.get("/api", {})
                outcome = "answered (!)"
            except GatewayError as exc:
                outcome = f"{type(exc).__name__}: {exc.params.get('reason', '')}"[:60]
            elapsed = time.monotonic() - started
            grown = peak_rss_mb() - before
            http.close()
        print(f"{name:<36} {elapsed:>8.2f} {grown:>13.1f}  {outcome}")

    import secrets

    key = secrets.token_hex(16)  # a throwaway key: only its length and randomness matter here
    text = ("x" * 1000 + key[3:19]) * 1000
    started = time.perf_counter()
    redact_runs(text, [key])
    print(f"redacting a whole {len(text) // 1000} kB answer: {(time.perf_counter() - started) * 1000:.1f} ms")
    http = GatewayHttp("http://127.0.0.1:9", secrets=(key,))
    started = time.perf_counter()
    http.excerpt(text)
    print(f"an 80-character excerpt of it: {(time.perf_counter() - started) * 1000:.2f} ms")
    http.close()


if __name__ == "__main__":
    main()
