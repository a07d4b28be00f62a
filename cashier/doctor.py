"""`cashier-cli doctor` (no profile): is this machine ready for the counter?

One screen of plain words: can the window open (display and the libraries Qt needs),
is there a usable keyring, is the data folder writable, can each configured gateway be
reached, and is the clock right (compared with the gateways' own clocks, since a
signed request with a wrong time is refused). No Qt: the checks load the Qt platform
plugin as a plain library, so they also run where the window cannot.

`window_problem()` is also what `cashier` asks before it creates the window: a missing
display or library becomes one clear message instead of Qt's abort.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NamedTuple

from cashier.i18n import define, tr

define({
    "doctor.title": ("收银台自检", "Cashier check-up"),
    "doctor.ok": ("正常", "OK"),
    "doctor.warn": ("注意", "NOTE"),
    "doctor.fail": ("问题", "PROBLEM"),
    "doctor.display": ("显示", "Display"),
    "doctor.keyring": ("钥匙串", "Keyring"),
    "doctor.data": ("数据文件夹", "Data folder"),
    "doctor.gateway": ("网关 {name}", "Gateway {name}"),
    "doctor.clock": ("时钟", "Clock"),
    "doctor.display.desktop": ("{system} 桌面", "{system} desktop"),
    "doctor.display.ok": ("{platform}，显示 {display}", "{platform} on {display}"),
    "doctor.display.forced": ("QT_QPA_PLATFORM={platform}：窗口不会显示在屏幕上", "QT_QPA_PLATFORM={platform}: the window is not shown on a screen"),
    "doctor.display.none": ("没有图形显示（DISPLAY / WAYLAND_DISPLAY 未设置）：请在桌面里启动收银台", "No display (DISPLAY / WAYLAND_DISPLAY not set): start the cashier from the desktop"),
    "doctor.display.unreachable": ("连不上显示 {display}", "Cannot connect to display {display}"),
    "doctor.display.library": ("缺少系统库：{error}。Debian/Ubuntu 请安装：{packages}", "A system library is missing: {error}. On Debian/Ubuntu install: {packages}"),
    "doctor.keyring.ok": ("{backend}", "{backend}"),
    "doctor.data.ok": ("{path}（可写，剩余 {free} MB）", "{path} (writable, {free} MB free)"),
    "doctor.data.low": ("{path}：剩余空间只有 {free} MB", "{path}: only {free} MB free"),
    "doctor.data.unwritable": ("{path} 不可写：{error}", "{path} is not writable: {error}"),
    "doctor.gateway.none": ("还没有商户配置（可以用演示模式）", "No merchant configured yet (demo mode works)"),
    "doctor.gateway.ok": ("{host} 可以连接（{ms} ms）", "{host} reachable ({ms} ms)"),
    "doctor.gateway.fail": ("连不上 {host}：{error}", "Cannot reach {host}: {error}"),
    "doctor.clock.ok": ("与 {host} 相差 {skew} 秒", "{skew} s from {host}"),
    "doctor.clock.skewed": ("与 {host} 相差 {skew} 秒：请校准电脑时间（签名请求会被拒绝）", "{skew} s off {host}: set the computer's clock (signed requests get refused)"),
    "doctor.clock.unchecked": ("无法比较（没有可连接的网关）", "Not compared (no reachable gateway)"),
    "doctor.summary.ok": ("一切正常", "All good"),
    "doctor.summary.fail": ("有 {count} 个问题", "{count} problem(s)"),
})

# What a fresh Debian/Ubuntu desktop may lack for Qt's xcb platform plugin (README too).
XCB_PACKAGES = ("libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 "
                "libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 "
                "libegl1 libfontconfig1 libdbus-1-3")
MAX_SKEW = 60.0  # seconds; gateways that sign a timestamp refuse a few minutes off
MIN_FREE_MB = 200
GATEWAY_TIMEOUT = 5.0


class Check(NamedTuple):
    label: str
    status: str  # "ok", "warn", "fail"
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.label, "status": self.status, "detail": self.detail}


# --------------------------------------------------------------------------- display

def _qt_platform_plugin(name: str) -> Path | None:
    """Qt's platform plugin library, found without importing Qt (the frozen cashier-cli
    has no PySide6 module, but shares the folder that holds the plugins)."""
    roots = []
    if getattr(sys, "frozen", False):
        roots.append(Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "PySide6")
    import importlib.util

    spec = importlib.util.find_spec("PySide6") if not roots else None
    if spec is not None and spec.submodule_search_locations:
        roots += [Path(p) for p in spec.submodule_search_locations]
    for root in roots:
        for candidate in (root / "Qt" / "plugins" / "platforms" / f"libq{name}.so",
                          root / "plugins" / "platforms" / f"libq{name}.so"):
            if candidate.is_file():
                return candidate
    return None


def window_problem() -> str | None:
    """Why the window cannot open here, in plain words, or None. Linux only: Windows
    and macOS always have their desktop platform plugin and libraries."""
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0]
    if platform and platform != "xcb":
        return None  # offscreen, wayland, ...: Qt's own choice, asked for on purpose
    import ctypes

    display = os.environ.get("DISPLAY")
    if not display:
        if os.environ.get("WAYLAND_DISPLAY") and not platform:
            return None  # Qt picks its Wayland plugin
        return tr("doctor.display.none")
    plugin = _qt_platform_plugin("xcb")
    if plugin is not None:
        try:
            ctypes.CDLL(str(plugin))  # fails naming the first missing library
        except OSError as exc:
            return tr("doctor.display.library", error=_short_dlerror(exc), packages=XCB_PACKAGES)
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError as exc:
        return tr("doctor.display.library", error=_short_dlerror(exc), packages=XCB_PACKAGES)
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = xcb.xcb_connect(display.encode(), None)
    try:
        if xcb.xcb_connection_has_error(conn):
            return tr("doctor.display.unreachable", display=display)
    finally:
        xcb.xcb_disconnect(conn)
    return None


def _short_dlerror(exc: OSError) -> str:
    """'…/libqxcb.so: libxcb-cursor.so.0: cannot open shared object file: …' -> the missing name.
    (In the frozen app PyInstaller's ctypes wraps the loader's error: the cause has it.)"""
    while exc.__cause__ is not None and isinstance(exc.__cause__, OSError):
        exc = exc.__cause__
    text = str(exc)
    parts = [p.strip() for p in text.split(":")]
    for part in parts:
        if ".so" in part and "/" not in part:
            return part
    return text


def check_display() -> Check:
    label = tr("doctor.display")
    if not sys.platform.startswith("linux"):
        return Check(label, "ok", tr("doctor.display.desktop", system="macOS" if sys.platform == "darwin" else "Windows"))
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0]
    if platform in ("offscreen", "minimal", "vnc"):
        return Check(label, "warn", tr("doctor.display.forced", platform=platform))
    problem = window_problem()
    if problem:
        return Check(label, "fail", problem)
    where = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY", "")
    return Check(label, "ok", tr("doctor.display.ok", platform=platform or "xcb", display=where))


# --------------------------------------------------------------------------- keyring

def check_keyring() -> Check:
    from cashier import secrets
    from cashier.i18n import UserError

    label = tr("doctor.keyring")
    try:
        keyring = secrets._keyring("keyring.unreadable")
    except UserError as exc:
        return Check(label, "fail", exc.message())
    backend = keyring.get_keyring()
    name = getattr(backend, "name", None) or f"{type(backend).__module__}.{type(backend).__name__}"
    return Check(label, "ok", tr("doctor.keyring.ok", backend=name))


# --------------------------------------------------------------------------- data folder

def check_data_folder() -> Check:
    import shutil
    import tempfile

    from cashier import paths

    label = tr("doctor.data")
    try:
        folder = paths.data_dir()
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as exc:
        where = os.environ.get("CASHIER_HOME") or str(paths.machine_home() or "")
        return Check(label, "fail", tr("doctor.data.unwritable", path=where or "?", error=exc.strerror or exc))
    free = shutil.disk_usage(folder).free // (1024 * 1024)
    if free < MIN_FREE_MB:
        return Check(label, "fail", tr("doctor.data.low", path=folder, free=free))
    return Check(label, "ok", tr("doctor.data.ok", path=folder, free=free))


# --------------------------------------------------------------------------- gateways, clock

def check_gateways() -> tuple[list[Check], Check]:
    """Reach each profile's gateway (any HTTP answer counts) and read its clock."""
    import time
    from email.utils import parsedate_to_datetime

    import httpx

    from cashier.profiles import ProfileStore

    profiles = ProfileStore().list()
    if not profiles:
        return ([Check(tr("doctor.gateway", name=""), "warn", tr("doctor.gateway.none"))],
                Check(tr("doctor.clock"), "warn", tr("doctor.clock.unchecked")))
    checks, skews = [], []
    with httpx.Client(timeout=GATEWAY_TIMEOUT, follow_redirects=False) as client:
        for profile in profiles:
            host = httpx.URL(profile.base_url).host
            label = tr("doctor.gateway", name=profile.name)
            start = time.monotonic()
            try:
                with client.stream("GET", profile.base_url) as answer:
                    date = answer.headers.get("date")
                    received = time.time()
            except httpx.HTTPError as exc:
                checks.append(Check(label, "fail", tr("doctor.gateway.fail", host=host, error=type(exc).__name__)))
                continue
            elapsed = time.monotonic() - start
            checks.append(Check(label, "ok", tr("doctor.gateway.ok", host=host, ms=round(elapsed * 1000))))
            try:
                theirs = parsedate_to_datetime(date).timestamp() if date else None
            except (TypeError, ValueError):
                theirs = None
            if theirs is not None:
                # the server stamped its Date somewhere within the round trip
                skews.append((received - elapsed / 2 - theirs, host))
    clock = tr("doctor.clock")
    if not skews:
        return checks, Check(clock, "warn", tr("doctor.clock.unchecked"))
    skew, host = max(skews, key=lambda item: abs(item[0]))
    shown = f"{skew:+.0f}"
    if abs(skew) > MAX_SKEW:
        return checks, Check(clock, "fail", tr("doctor.clock.skewed", host=host, skew=shown))
    return checks, Check(clock, "ok", tr("doctor.clock.ok", host=host, skew=shown))


def run_checks() -> list[Check]:
    checks = [check_display(), check_keyring(), check_data_folder()]
    gateways, clock = check_gateways()
    return checks + gateways + [clock]


def render(checks: list[Check]) -> str:
    marks = {"ok": tr("doctor.ok"), "warn": tr("doctor.warn"), "fail": tr("doctor.fail")}
    width = max(len(c.label) for c in checks)
    lines = [tr("doctor.title")]
    lines += [f"  [{marks[c.status]}] {c.label.ljust(width)}  {c.detail}" for c in checks]
    failed = sum(c.status == "fail" for c in checks)
    lines.append(tr("doctor.summary.fail", count=failed) if failed else tr("doctor.summary.ok"))
    return "\n".join(lines)
