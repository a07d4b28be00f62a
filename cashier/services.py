"""Building the app's parts (pure, no Qt): ledger, gateways from profiles and the
keyring, the engine, and in demo mode the embedded simulator. The CLI and the GUI
both start here."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from cashier import paths
from cashier.engine import Engine, EngineSettings
from cashier.gateways import build_gateway
from cashier.gateways.base import Gateway, Profile
from cashier.i18n import UserError
from cashier.ledger import Ledger

log = logging.getLogger("cashier")


@dataclass
class Context:
    engine: Engine
    ledger: Ledger
    profiles: list[Profile]
    active_profile: str | None
    demo: bool = False
    sim: object | None = None  # SimServer in demo mode
    sim_client: object | None = None
    # Profiles that could not be used, with the reason (e.g. no key in the keyring).
    problems: dict[str, str] = field(default_factory=dict)
    receiver: object | None = None
    lock: object | None = None  # InstanceLock held while this context schedules
    # Another process (a running window) holds the scheduler lock for these books.
    scheduled_elsewhere: bool = False

    def warm_up(self) -> None:
        """Load the HTTP layer and make each gateway's client (a worker thread, once the
        window is ready): the first sale then waits for the gateway only."""
        for name in self.engine.profiles():
            try:
                self.engine.gateway(name).warm_up()
            except Exception:  # only a head start: the first request meets the same fault, typed
                log.warning("warming up %s's HTTP client failed", name, exc_info=True)

    def close(self) -> None:
        self.engine.stop()
        if self.receiver is not None:
            self.receiver.stop()
        for name in self.engine.profiles():
            self.engine.gateway(name).close_transport()
        self.ledger.close()
        if self.sim_client is not None:
            self.sim_client.close()
        if self.sim is not None:
            self.sim.stop()
        if self.lock is not None:
            self.lock.release()


def demo_ledger_path() -> Path:
    """Demo orders live in their own file: they never mix with the shop's books."""
    return paths.data_dir() / "demo-ledger.sqlite3"


def open_context(*, demo: bool = False, ledger_path: "Path | str | None" = None, clock=None,
                 engine_settings: EngineSettings | None = None, start: bool = True,
                 sim_port: int = 0, exclusive: bool = False) -> Context:
    """exclusive: take the scheduler lock of these books or raise AlreadyRunning (the
    window); otherwise note whether someone else holds it (cashier-cli).

    ledger_path: a SQLite file or a postgresql:// URL; default: the `ledger_url`
    setting (CASHIER_LEDGER_URL overrides it), "" being the data folder's file."""
    settings = engine_settings or engine_settings_from_user_settings()
    gateways: dict[str, Gateway] = {}
    problems: dict[str, str] = {}
    sim = sim_client = None
    if demo:
        from cashier.sim.client import SimClient
        from cashier.sim.demo import demo_profiles
        from cashier.sim.server import SimServer

        sim = SimServer(port=sim_port).start()
        sim_client = SimClient(sim.base_url)
        pairs = demo_profiles(sim.base_url)
        profiles = [p for p, _ in pairs]
        for profile, secret in pairs:
            gateways[profile.name] = build_gateway(profile, secret)
        active = profiles[0].name
        path = ledger_path or demo_ledger_path()
    else:
        from cashier import secrets
        from cashier.profiles import ProfileStore

        store = ProfileStore()
        profiles = store.list()
        for profile in profiles:
            try:
                gateways[profile.name] = build_gateway(profile, secrets.get_secret(profile.name))
            except UserError as exc:
                problems[profile.name] = exc.message()
        active_profile = store.active()
        active = active_profile.name if active_profile and active_profile.name in gateways else (
            next(iter(gateways), None))
        path = ledger_path or configured_ledger()
    from cashier.engine.clock import clock_from_env
    from cashier.engine.instance import AlreadyRunning, InstanceLock
    from cashier.ledger.location import is_shared

    # One scheduler per ledger file; on a shared ledger, one per counter on this
    # computer (counters elsewhere are kept apart by their leases in the ledger).
    lock = InstanceLock(paths.data_dir() / f"counter-{settings.counter_id}" if is_shared(path) else path)
    scheduled_elsewhere = False
    if exclusive:
        if not lock.acquire():
            if sim is not None:
                sim.stop()
                sim_client.close()
            for gw in gateways.values():
                gw.close_transport()
            raise AlreadyRunning()
    else:
        scheduled_elsewhere = lock.held_elsewhere()
        lock = None
    clock = clock or clock_from_env()
    try:  # one clock for the ledger's stamps and the engine
        ledger = Ledger(path, clock=clock.now, application_name=f"cashier counter {settings.counter_id}")
    except BaseException:
        if lock is not None:
            lock.release()
        if sim is not None:
            sim.stop()
            sim_client.close()
        for gw in gateways.values():
            gw.close_transport()
        raise
    engine = Engine(ledger, gateways, settings=settings, clock=clock)
    ctx = Context(engine=engine, ledger=ledger, profiles=profiles, active_profile=active, demo=demo, sim=sim,
                  sim_client=sim_client, problems=problems, lock=lock, scheduled_elsewhere=scheduled_elsewhere)
    if start:
        engine.start()
        if not demo:
            ctx.receiver = _start_receiver(engine)
    return ctx


def _start_receiver(engine: Engine):
    """The optional notification receiver (off by default; settings turn it on)."""
    from cashier.settings import SettingsStore

    loaded, _ = SettingsStore().load_or_default()
    if not loaded.notify_enabled:
        return None
    from cashier.engine.notify import NotificationReceiver

    try:
        return NotificationReceiver(engine, port=loaded.notify_port, path=loaded.notify_path).start()
    except OSError as exc:  # port taken: polling still works
        log.warning("notification receiver not started: %s", exc)
        return None


def configured_ledger() -> "Path | str":
    """This counter's books: the SQLite file, or the shared ledger's URL."""
    from cashier.ledger.location import resolve_url
    from cashier.settings import ledger_url

    return resolve_url(ledger_url())


def engine_settings_from_user_settings() -> EngineSettings:
    """EngineSettings from the shop's settings file (counter id, QR expiry)."""
    from cashier.settings import SettingsStore

    loaded, problem = SettingsStore().load_or_default()
    if problem is not None:
        log.warning("settings not readable (%s); using defaults", problem.message("en"))
    return EngineSettings(counter_id=loaded.counter_id, qr_expiry_seconds=loaded.qr_expiry_seconds)
