"""Start-up and Enter-to-QR figures for the counter window. Prints; asserts nothing.

    python bench/startup_bench.py [--runs 7] [--qr-runs 30] [--profile] [--skip-startup]

1. Start-up: wall time of `python -m cashier --demo --exit-after-first-frame` beside a
   bare PySide6 window that exits on its first frame, same run, alternating, median.
   The window's first frame is its start-up panel; `--exit-when-ready` gives two more
   moments: the first frame with the pages (the checkout) on it, and ready (engine,
   books, gateways and simulator open: payments possible).
   Bytecode is cached for both programs (a PYTHONPYCACHEPREFIX folder of the bench's
   own, warmed by a first run), as an installed or frozen app has it: with
   PYTHONDONTWRITEBYTECODE set, every run would compile the project from source.
2. Enter to QR painted, in-process against the embedded simulator: from the Enter key
   to the QR widget's paint, beside the gateway's own create call against the same
   simulator (the simulator's answer time) and the engine's start_qr (ledger writes
   included). UI overhead = Enter-to-painted minus the simulator's answer time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BARE = r"""
import sys
from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QApplication, QWidget

class W(QWidget):
    done = False
    def event(self, e):
        r = super().event(e)
        if e.type() == QEvent.Type.UpdateRequest and not self.done:
            self.done = True
            print("first_frame", flush=True)
            QTimer.singleShot(0, app.quit)
        return r

app = QApplication(sys.argv)
w = W()
w.resize(1280, 800)
w.show()
sys.exit(app.exec())
"""


def _env(home: str) -> dict[str, str]:
    env = dict(os.environ, CASHIER_HOME=home, PYTHONPATH=str(ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(home) / "pycache"))
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def _time(cmd: list[str], env: dict[str, str], *marks: str) -> list[float]:
    """Wall time from starting the process to each of its `marks` lines on stdout
    (printed the moment it happens), so the time to shut down is not counted."""
    marks = marks or ("first_frame",)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: dict[str, float] = {}
    for line in proc.stdout:
        mark = line.strip()
        if mark in marks and mark not in seen:
            seen[mark] = time.perf_counter() - t0
    _, err = proc.communicate(timeout=120)
    if proc.returncode != 0 or len(seen) != len(marks):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}), saw {sorted(seen)}:\n{err}")
    return [seen[m] for m in marks]


def startup(runs: int) -> None:
    home = tempfile.mkdtemp(prefix="cashier-bench-")
    env = _env(home)
    py = sys.executable
    bare, app, pages, ready = [], [], [], []
    first = [py, "-m", "cashier", "--demo", "--exit-after-first-frame", "--print-timings"]
    whole = [py, "-m", "cashier", "--demo", "--exit-when-ready", "--print-timings"]
    for cmd, marks in (([py, "-c", BARE], ()), (first, ()), (whole, ("ready",))):
        _time(cmd, env, *marks)  # bytecode compiled and cached, OS file cache warm, demo books made
    for _ in range(runs):
        bare.append(_time([py, "-c", BARE], env)[0])
        app.append(_time(first, env)[0])
        p, r = _time(whole, env, "pages_painted", "ready")
        pages.append(p)
        ready.append(r)
    b, a, p, r = (statistics.median(x) * 1000 for x in (bare, app, pages, ready))
    print(f"platform: {env.get('QT_QPA_PLATFORM') or 'display'}; {runs} runs each, median wall time from"
          " starting the process to the moment (shut-down not counted)")
    print(f"  bare PySide6 window, first frame:          {b:7.0f} ms")
    print(f"  cashier --demo --exit-after-first-frame:   {a:7.0f} ms  ({a / b:.2f}x bare; target 1.5x;"
          " the start-up panel)")
    print(f"  first frame with the checkout on it:       {p:7.0f} ms  ({p / b:.2f}x bare)")
    print(f"  cashier --demo --exit-when-ready:          {r:7.0f} ms  ({r / b:.2f}x bare; target 3x;"
          " engine + simulator open)")


def profile(top: int = 25) -> None:
    """Where start-up time goes: cProfile of `cashier --demo --exit-when-ready` (the
    main thread: imports, QApplication, window, first frame) and `-X importtime`'s
    slowest imports before the first frame."""
    import pstats

    home = tempfile.mkdtemp(prefix="cashier-bench-")
    env = _env(home)
    out = Path(home) / "startup.prof"
    subprocess.run([sys.executable, "-m", "cashier", "--demo", "--exit-when-ready"], env=env, cwd=ROOT,
                   capture_output=True, timeout=120, check=True)  # bytecode cached, demo books made
    # The profile ends when the app prints "ready" (its shut-down is not start-up).
    until_ready = (
        "import cProfile, sys\n"
        "prof = cProfile.Profile()\n"
        "class Out:\n"
        "    def __init__(self, inner): self.inner = inner\n"
        "    def write(self, text):\n"
        "        if text.strip() == 'ready': prof.disable(); prof.dump_stats(sys.argv[1])\n"
        "        return self.inner.write(text)\n"
        "    def flush(self): self.inner.flush()\n"
        "sys.stdout = Out(sys.stdout)\n"
        "prof.enable()\n"
        "from cashier.app import main\n"
        "main(['--demo', '--exit-when-ready', '--print-timings'])\n"
    )
    subprocess.run([sys.executable, "-c", until_ready, str(out)], env=env, cwd=ROOT, capture_output=True,
                   text=True, timeout=120, check=True)
    print(f"cProfile, main thread, start to ready (top {top} by cumulative time; the import machinery's"
          " own frames left out; cProfile slows Python code ~2x):")
    stats = pstats.Stats(str(out))
    rows = []
    for (file, line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        if file.startswith("<frozen") or name in ("<built-in method builtins.exec>", "<built-in method exec>",
                                                  "<built-in method builtins.__import__>"):
            continue
        where = Path(file).relative_to(ROOT) if file.startswith(str(ROOT)) else Path(file).name
        rows.append((ct, f"{where}:{line}({name})"))
    for ct, where in sorted(rows, reverse=True)[:top]:
        print(f"  {ct * 1000:8.0f} ms  {where}")
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "cashier", "--demo", "--exit-after-first-frame"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    top_level = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            if not name.startswith("  "):  # imported by the program itself, not by another module
                top_level.append((int(parts[1]), name.strip()))
    print("imports before the first frame, slowest top-level (cumulative, one run):")
    for us, name in sorted(top_level, reverse=True)[:12]:
        print(f"  {us / 1000:8.1f} ms  {name}")


def enter_to_qr(runs: int) -> None:
    os.environ.setdefault("CASHIER_HOME", tempfile.mkdtemp(prefix="cashier-bench-"))
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from decimal import Decimal

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from cashier.gateways.base import Method
    from cashier.services import open_context
    from cashier.ui.app import make_app
    from cashier.ui.window import MainWindow

    app = make_app([])
    ctx = open_context(demo=True, start=True, ledger_path=Path(os.environ["CASHIER_HOME"]) / "bench.sqlite3")
    window = MainWindow(demo=True)
    window.set_context(ctx)
    window.show()
    co = window.checkout
    co.ensure_pages()
    profile = co.profile
    gw = ctx.engine.gateway(profile)

    def spin_until(pred, timeout=10.0) -> None:
        end = time.perf_counter() + timeout
        while not pred():
            if time.perf_counter() > end:
                raise SystemExit("timed out")
            app.processEvents()
            time.sleep(0.0005)

    spin_until(lambda: window.isExposed() if hasattr(window, "isExposed") else True, 2)
    ui, sim_answer, engine_call = [], [], []
    painted: list[float] = []
    co.qr.painted.connect(lambda: painted.append(time.perf_counter()))
    for i in range(runs + 2):
        # the simulator's own answer time: the gateway's create call, nothing else
        t0 = time.perf_counter()
        gw.create_qr(f"BENCH{i:04d}{int(time.time())}", Decimal("1.00"), Method.MERGED, "bench", 300)
        sim_answer.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ctx.engine.start_qr(profile, Decimal("1.00"), Method.MERGED, sale_id=f"bench-engine-{i}")
        engine_call.append(time.perf_counter() - t0)

        co.new_checkout()
        for ch in "12.34":
            co._pad(ch)
        app.processEvents()
        painted.clear()
        t0 = time.perf_counter()
        QTest.keyClick(co, Qt.Key.Key_Return)
        spin_until(lambda: bool(painted))
        ui.append(painted[0] - t0)
        QTest.keyClick(co, Qt.Key.Key_Escape)
        spin_until(lambda: co.mode == "result")
    ui, sim_answer, engine_call = ui[2:], sim_answer[2:], engine_call[2:]  # drop warm-up
    u, s, e = (statistics.median(x) * 1000 for x in (ui, sim_answer, engine_call))
    print(f"Enter to QR painted ({profile}, {runs} runs, median):")
    print(f"  Enter -> QR painted in the window:         {u:7.1f} ms")
    print(f"  simulator's answer (gateway.create_qr):    {s:7.1f} ms")
    print(f"  engine.start_qr (ledger writes + answer):  {e:7.1f} ms")
    print(f"  beyond the simulator's answer:             {u - s:7.1f} ms")
    window.workers.wait()
    window.close()
    ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--qr-runs", type=int, default=30)
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--profile", action="store_true", help="also print where start-up time goes")
    args = parser.parse_args()
    if not args.skip_startup:
        startup(args.runs)
    if args.profile:
        profile()
    enter_to_qr(args.qr_runs)


if __name__ == "__main__":
    main()
