"""A stress walk of the real counter window (`cashier --demo`): many sales typed fast
with xdotool, and quit/restart cycles, checking after every batch of actions that the
process is still alive. Not a test (pytest never collects tools/): a person runs it
when the window may have vanished, on an X display with xdotool on the PATH:

    Xvfb :13 -noreset -screen 0 1366x768x24 &
    DISPLAY=:13 .venv/bin/python tools/stress_walk.py --minutes 20 --out /tmp/stress

(-noreset: an X server without it resets when its last client leaves, and an app
starting at that moment cannot connect; that is the display, not the app.)

Each cycle starts the app a few times and closes it at once (on the start-up panel,
while the pages are built, while the engine opens), then walks one run through
--batches × --batch actions: amounts typed at scanner speed (1 ms a key), F1–F4 or
Enter for a QR, Ctrl+Shift+P (the demo customer pays it), Esc, payment codes before or
after the amount, F5, Ctrl+Shift+S, stray keys; --mixed adds Alt+2…5 and back, and
the refund dialog (Alt+3, F8, Esc). Pauses between keys are 0 to 0.3 s. Runs of a
--cycles group share one CASHIER_HOME, so later starts recover the earlier books.
Closes are WM_DELETE_WINDOW (a window manager's close button) or SIGTERM.

Every app runs with PYTHONFAULTHANDLER=1 and its stdout/stderr in OUT/run-N.out.
When one dies, its exit code or signal, its last actions, the end of its output and
of its log (CASHIER_HOME/logs/cashier.log) are printed and kept. A close that has not
ended the app after 25 s (a payment in flight is refused on purpose) gets SIGABRT, so
the output holds every thread's stack, and is noted. Exit status: 0 when no app died
unexpectedly, 1 otherwise.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------- X11 helpers
class _XClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _XClientMessage), ("pad", ctypes.c_long * 24)]


def wm_delete(window: int) -> bool:
    """Ask `window` to close as a window manager's close button does (WM_DELETE_WINDOW)."""
    x = ctypes.cdll.LoadLibrary("libX11.so.6")
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XInternAtom.restype = ctypes.c_ulong
    x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    x.XFlush.argtypes = [ctypes.c_void_p]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x.XOpenDisplay(None)
    if not dpy:
        return False
    try:
        event = _XEvent()
        m = event.xclient
        m.type = 33  # ClientMessage
        m.window = window
        m.message_type = x.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        m.format = 32
        m.data[0] = x.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
        m.data[1] = 0  # CurrentTime
        ok = x.XSendEvent(dpy, window, 0, 0, ctypes.byref(event))
        x.XFlush(dpy)
        return bool(ok)
    finally:
        x.XCloseDisplay(dpy)


def xdo(*args: str) -> str:
    try:
        out = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return ""
    return out.stdout.strip()


def windows_of(pid: int) -> list[int]:
    return [int(w) for w in xdo("search", "--onlyvisible", "--pid", str(pid)).split()]


# ----------------------------------------------------------------- the app
class App:
    def __init__(self, out: Path, n: int, home: Path, dev: bool) -> None:
        self.home = home
        self.output = out / f"run-{n}.out"
        env = dict(os.environ, CASHIER_HOME=str(self.home), PYTHONFAULTHANDLER="1")
        python = [sys.executable, *(["-X", "dev"] if dev else [])]
        self._out = open(self.output, "wb")
        self.proc = subprocess.Popen([*python, "-m", "cashier.app", "--demo"], cwd=ROOT, env=env,
                                     stdout=self._out, stderr=subprocess.STDOUT)
        self.started = time.monotonic()
        self.keep = False  # its output is kept (a close that did not end it)

    def window(self, timeout: float = 20.0) -> int | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.alive():
            wins = windows_of(self.proc.pid)
            if wins:
                return wins[0]
            time.sleep(0.05)
        return None

    def settle(self, seconds: float) -> bool:
        """A moment for the books and the demo simulator to open (keys typed sooner are
        part of the walk too: the checkout is usable while they open)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and self.alive():
            time.sleep(0.1)
        return self.alive()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def focus(self) -> None:
        wins = windows_of(self.proc.pid)
        if wins:
            xdo("windowactivate", "--sync", str(wins[0]))
            xdo("windowfocus", "--sync", str(wins[0]))

    def close(self) -> None:
        self._out.close()

    def no_display(self) -> bool:
        """Qt could not reach the X server (the display, not the app)."""
        return "could not connect to display" in self.output.read_text("utf-8", "replace")

    def report(self, actions: list[str]) -> str:
        code = self.proc.returncode
        how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        lines = [f"=== app died: {how} after {time.monotonic() - self.started:.1f} s (home {self.home})",
                 "--- last actions: " + " | ".join(actions[-30:]),
                 "--- output:", self.output.read_text("utf-8", "replace")[-6000:]]
        log = self.home / "logs" / "cashier.log"
        if log.exists():
            lines += ["--- log (end):", log.read_text("utf-8", "replace")[-6000:]]
        return "\n".join(lines)


# ----------------------------------------------------------------- the walk
def amount(rng: random.Random) -> str:
    return rng.choice(["12.34", "0.01", "1", "99.99", "5.5", "250", "3.07", "12.345", "0", "100000"])


def payment_code(rng: random.Random) -> str:
    return rng.choice(["13", "28"]) + "".join(rng.choice("0123456789") for _ in range(16))


CHECKOUT = {  # the checkout only: sales, as a clerk does before opening any other page
    "qr_sale": 8, "qr_paid": 10, "scan_sale": 8, "scan_first": 4, "escape": 4, "check": 3,
    "enter": 3, "keys": 3, "customer_scan": 2,
}
MIXED = {**CHECKOUT, "page": 4, "refund_dialog": 2}


def act(name: str, rng: random.Random, pause: float) -> str:
    """One clerk's action through xdotool; returns what was done (for the report)."""
    p = lambda: time.sleep(pause * rng.random()) if pause else None  # noqa: E731
    key = lambda *k: xdo("key", "--delay", str(rng.choice([0, 1, 5])), *k)  # noqa: E731
    typ = lambda t: xdo("type", "--delay", "1", t)  # noqa: E731
    if name in ("qr_sale", "qr_paid"):
        a, f = amount(rng), rng.choice(["F1", "F2", "F3", "F4", "Return"])
        typ(a); p(); key(f); p()
        if name == "qr_paid":
            key("ctrl+shift+p"); p()
        if rng.random() < 0.6:
            key("Escape"); p()
        return f"{name} {a} {f}"
    if name == "scan_sale":
        a, c = amount(rng), payment_code(rng)
        typ(a); p(); typ(c); key("Return"); p()
        return f"scan {a} {c[:4]}…"
    if name == "scan_first":
        c, a = payment_code(rng), amount(rng)
        typ(c); key("Return"); p(); typ(a); key("Return"); p()
        return f"scan first {c[:4]}… {a}"
    if name == "escape":
        key(*["Escape"] * rng.randint(1, 3)); p()
        return "esc"
    if name == "check":
        key("F5"); p()
        return "F5"
    if name == "page":  # another page a moment, then back (F9 or Alt+1)
        n = rng.randint(2, 5)
        key(f"alt+{n}"); p(); key(rng.choice(["alt+1", "F9"])); p()
        return f"alt+{n} back"
    if name == "refund_dialog":
        key("alt+3"); p(); key("Down"); p(); key("F8"); p(); key("Escape"); p(); key("alt+1"); p()
        return "alt+3 F8 esc"
    if name == "enter":
        key("Return"); p()
        return "enter"
    if name == "keys":
        k = rng.choice(["F6", "F7", "Tab", "BackSpace", "Delete", "space", "a", "ctrl+v"])
        key(k); p(); key("Escape"); p()
        return f"{k} esc"
    if name == "customer_scan":
        key("ctrl+shift+s"); p()
        return "ctrl+shift+s"
    raise ValueError(name)


def walk(app: App, rng: random.Random, count: int, pause: float, done: list[str], mixed: bool) -> bool:
    actions = MIXED if mixed else CHECKOUT
    names, weights = list(actions), list(actions.values())
    for _ in range(count):
        if not app.alive():
            return False
        done.append(act(rng.choices(names, weights)[0], rng, pause))
    time.sleep(0.3)
    return app.alive()


def stop(app: App, how: str, timeout: float = 25.0) -> str:
    """Close the app `how`; returns "" when it ended as asked, else what went wrong."""
    if how == "delete":
        wins = windows_of(app.proc.pid)
        for w in wins:
            wm_delete(w)
    elif how == "sigterm":
        app.proc.terminate()
    try:
        code = app.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        # A payment in flight refuses a close from the window system; otherwise a hang:
        # SIGABRT first, so that faulthandler writes every thread's stack to the output.
        app.proc.send_signal(signal.SIGABRT)
        try:
            app.proc.wait(5)
        except subprocess.TimeoutExpired:
            app.proc.kill()
            app.proc.wait()
        if how == "delete":  # a payment in flight (the window says so), or stuck: see the output
            print(f"note: still running {timeout:.0f} s after the close; stacks in {app.output}", flush=True)
            app.keep = True
            return ""
        return f"still running {timeout:.0f} s after {how}"
    if how == "sigterm":
        return "" if code in (0, -signal.SIGTERM) else f"exit {code} on SIGTERM"
    return "" if code == 0 else f"exit {code} on {how}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="/tmp/cashier-stress")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--batch", type=int, default=25, help="actions between liveness checks")
    parser.add_argument("--batches", type=int, default=8, help="batches per run of the app")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--dev", action="store_true", help="python -X dev")
    parser.add_argument("--mixed", action="store_true", help="other pages and the refund dialog too")
    parser.add_argument("--cycles", type=int, default=4, help="runs that share one CASHIER_HOME")
    parser.add_argument("--early-closes", type=int, default=3, help="start/close-at-once cycles per run")
    args = parser.parse_args()
    if not shutil.which("xdotool") or not os.environ.get("DISPLAY"):
        print("stress_walk: needs xdotool and an X display (DISPLAY)", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    print(f"seed {seed}, out {out}", flush=True)
    end = time.monotonic() + args.minutes * 60
    runs = actions = deaths = 0
    home: Path | None = None  # the books of earlier runs, kept for --cycles runs (recovery at start)
    cycle = 0
    while time.monotonic() < end:
        if home is None or cycle % args.cycles == 0:
            if home is not None:
                shutil.rmtree(home, ignore_errors=True)
            home = Path(tempfile.mkdtemp(prefix="cashier-stress-home-", dir=out))
        cycle += 1
        # Start and close at once (the start-up panel, the pages being built, the engine opening).
        for _ in range(args.early_closes):
            runs += 1
            app = App(out, runs, home, args.dev)
            app.window(10)
            time.sleep(rng.choice([0, 0, 0.05, 0.2, 0.5, 1.0, 2.0]))
            problem = stop(app, "delete")
            app.close()
            if problem and app.no_display():
                print(f"run {runs}: Qt could not connect to the display (not counted)", flush=True)
            elif problem:
                deaths += 1
                home = None  # kept for a look
                print(f"run {runs}: early close: {problem}\n{app.report(['close at once'])}", flush=True)
            elif not app.keep:
                app.output.unlink(missing_ok=True)
        runs += 1
        app = App(out, runs, home, args.dev)
        done: list[str] = []
        if app.window() is None or not app.settle(rng.choice([0.5, 2.0, 6.0])):
            if app.no_display():
                print(f"run {runs}: Qt could not connect to the display (not counted)", flush=True)
                app.close()
                continue
            deaths += 1
            home = None
            print(f"run {runs}: never came up\n{app.report(done)}", flush=True)
            app.close()
            continue
        app.focus()
        ok = True
        for _ in range(args.batches):
            pause = rng.choice([0, 0, 0.02, 0.1, 0.3])
            ok = walk(app, rng, args.batch, pause, done, args.mixed)
            if not ok:
                break
            if time.monotonic() > end:
                break
            if rng.random() < 0.3:
                app.focus()
        actions += len(done)
        if not ok:
            deaths += 1
            home = None
            print(f"run {runs}: died\n{app.report(done)}", flush=True)
            app.close()
            continue
        problem = stop(app, rng.choice(["delete", "delete", "delete", "sigterm"]))
        app.close()
        if problem:
            deaths += 1
            home = None
            print(f"run {runs}: {problem}\n{app.report(done)}", flush=True)
        elif not app.keep:
            app.output.unlink(missing_ok=True)
        print(f"run {runs}: {len(done)} actions ok (total {actions} actions, {runs} starts, {deaths} deaths)",
              flush=True)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)
    print(f"done: {actions} actions, {runs} starts, {deaths} unexpected deaths (seed {seed})")
    return 1 if deaths else 0


if __name__ == "__main__":
    sys.exit(main())
