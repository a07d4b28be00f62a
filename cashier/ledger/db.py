"""The ledger: every payment attempt, refund and event, in one SQLite file (a single
counter, the default) or in a shared PostgreSQL database (several counters, one set of
books: see cashier.ledger.postgres for the dialect layer).

Every state change is committed (SQLite: WAL, synchronous=FULL) before the call
returns, so the engine can rely on "written before the request leaves". Writes run in
transactions that no other writer interleaves with (SQLite: BEGIN IMMEDIATE;
PostgreSQL: the ledger's advisory transaction lock): a failed write changes nothing,
and a compare-and-set reads and writes in one transaction. The SQL is one text for
both backends. One connection at a time, guarded by a lock, serves the engine's
threads.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from cashier import paths
from cashier.money import check_amount, format_yuan, from_fen, to_fen

from . import postgres, schema, states
from .books import METHOD_CASH, BooksMixin
from .errors import (
    DayOutOfRange,
    DuplicateOrder,
    DuplicateRefund,
    FullAuthCode,
    LedgerClosed,
    LedgerCorrupt,
    LedgerEmpty,
    LedgerError,
    OrderNotFound,
    RefundNotFound,
    IllegalStateChange,
    RefundTooLarge,
    SchemaTooNew,
    StateConflict,
    translate,
)
from .records import (
    JSON_FIELDS,
    ORDER_COLUMN_NAMES,
    REFUND_COLUMN_NAMES,
    ORDER_FIELDS,
    ORDER_MONEY_FIELDS,
    ORDER_MUTABLE_FIELDS,
    REFUND_FIELDS,
    REFUND_MONEY_FIELDS,
    REFUND_MUTABLE_FIELDS,
    SEARCH_STATUSES,
    Event,
    HistoryEntry,
    OrderQuery,
    OrderRecord,
    RefundRecord,
    Report,
    ReportLine,
)

log = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT_MS = 5000
# Ledgers up to this size are fully read by PRAGMA quick_check at every open.
QUICK_CHECK_MAX_BYTES = 16 * 1024 * 1024

# Must stay textually identical to the WHERE clause of the partial indexes
# orders_unresolved / refunds_unresolved (schema v2), or SQLite will not use them.
_ORDER_UNRESOLVED_SQL = "state NOT IN ('paid', 'closed', 'reversed', 'failed')"
_REFUND_UNRESOLVED_SQL = "state NOT IN ('succeeded', 'failed')"
assert set(re.findall(r"'(\w+)'", _ORDER_UNRESOLVED_SQL)) == states.FINAL_ORDER_STATES
assert set(re.findall(r"'(\w+)'", _REFUND_UNRESOLVED_SQL)) == states.FINAL_REFUND_STATES

# Orders counted as money taken in the day's report (see Report).
_REPORT_PAID_STATES = (states.PAID, states.NEEDS_CHECK)
HELD_ACTION = "paid_held"  # the engine's event for "paid, but the site holds the money"

# History search (search_orders). The shown-amount expression and its condition must
# stay textually identical to the partial index orders_paid_amount (schema v3).
_SHOWN_AMOUNT_SQL = "coalesce(paid_amount_fen, amount_to_pay_fen)"
_SHOWN_AMOUNT_DIFFERS_SQL = f"{_SHOWN_AMOUNT_SQL} <> amount_fen"
# orders.refunded_fen is kept by triggers (schema v4); "refunded_fen > 0" must stay
# textually in every refund-state clause for the partial index orders_refunded.
_REFUNDED_SQL = "refunded_fen > 0"
_STATUS_SQL = {
    "paid": ("state = 'paid'", ()),
    "not_paid": ("state IN ('closed', 'reversed', 'failed')", ()),
    "unresolved": (_ORDER_UNRESOLVED_SQL, ()),
    "refunded": (_REFUNDED_SQL, ()),
    "partly_refunded": (f"{_REFUNDED_SQL} AND state = 'paid' AND refunded_fen < paid_amount_fen", ()),
    "fully_refunded": (f"{_REFUNDED_SQL} AND refunded_fen >= paid_amount_fen", ()),
    "refund_open": ("out_trade_no IN (SELECT out_trade_no FROM refunds INDEXED BY refunds_unresolved"
                    f" WHERE {_REFUND_UNRESOLVED_SQL})", ()),
}
_REFUND_STATUSES = ("refunded", "partly_refunded", "fully_refunded")
assert set(_STATUS_SQL) == set(SEARCH_STATUSES)
assert {"closed", "reversed", "failed"} == states.FINAL_ORDER_STATES - {states.PAID}

_LAST4_RE = re.compile(r"[0-9]{4}")
_UNSET = object()


def _column(name: str) -> str:
    if name in ORDER_MONEY_FIELDS:
        return f"{name}_fen"
    return ORDER_COLUMN_NAMES.get(name, name)


def _refund_column(name: str) -> str:
    if name in REFUND_MONEY_FIELDS:
        return f"{name}_fen"
    return REFUND_COLUMN_NAMES.get(name, name)


_ORDER_COLUMNS = ", ".join(_column(n) for n in ORDER_FIELDS)
_REFUND_COLUMNS = ", ".join(_refund_column(n) for n in REFUND_FIELDS)
_ORDER_SELECT = f"SELECT {_ORDER_COLUMNS} FROM orders"
_REFUND_SELECT = f"SELECT {_REFUND_COLUMNS} FROM refunds"
_EVENT_SELECT = (
    "SELECT id, at, entity, entity_id, action, actor, old_state, new_state, detail, changes"
    " FROM events"
)
_ORDER_MONEY_INDEXES = tuple(i for i, n in enumerate(ORDER_FIELDS) if n in ORDER_MONEY_FIELDS)
_REFUND_MONEY_INDEXES = tuple(i for i, n in enumerate(REFUND_FIELDS) if n in REFUND_MONEY_FIELDS)
_ORDER_JSON_INDEXES = tuple(i for i, n in enumerate(ORDER_FIELDS) if n in JSON_FIELDS)
_REFUND_JSON_INDEXES = tuple(i for i, n in enumerate(REFUND_FIELDS) if n in JSON_FIELDS)


def _load_json(text: Any) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _order(row: tuple) -> OrderRecord:
    values = list(row)
    for i in _ORDER_MONEY_INDEXES:
        if values[i] is not None:
            values[i] = from_fen(values[i])
    for i in _ORDER_JSON_INDEXES:
        values[i] = _load_json(values[i])
    return OrderRecord(*values)


def _refund(row: tuple) -> RefundRecord:
    values = list(row)
    for i in _REFUND_MONEY_INDEXES:
        values[i] = from_fen(values[i])
    for i in _REFUND_JSON_INDEXES:
        values[i] = _load_json(values[i])
    return RefundRecord(*values)


def _event(row: tuple) -> Event:
    (id_, at, entity, entity_id, action, actor, old, new, detail, changes) = row
    return Event(id_, at, entity, entity_id, action, actor, old, new,
                 json.loads(detail or "{}"), json.loads(changes or "{}"))


def _plain(value: Any) -> Any:
    """Enums (Method, Wallet...) to their string value."""
    return getattr(value, "value", value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format_yuan(value) if value == value.quantize(Decimal("0.01")) else str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    if hasattr(value, "value"):
        return value.value
    raise TypeError(f"cannot store {type(value).__name__} in an event")


_FORBIDDEN_DETAIL_KEYS = re.compile(r"^(auth_?code|secret|key|password|pin|sign)$", re.I)


def _check_detail(detail: Any) -> None:
    """Refuse event details that name a payment code or a secret."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if _FORBIDDEN_DETAIL_KEYS.match(str(key)):
                raise ValueError(f"event detail may not hold {key!r}")
            _check_detail(value)
    elif isinstance(detail, (list, tuple)):
        for value in detail:
            _check_detail(value)


def _dumps(value: Any) -> str:
    return json.dumps(value or {}, ensure_ascii=False, sort_keys=True, default=_json_default)


def _check_last4(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _LAST4_RE.fullmatch(value):
        raise FullAuthCode()
    return value


def _expect_set(expect: str | Iterable[str] | None) -> frozenset[str] | None:
    if expect is None:
        return None
    if isinstance(expect, str):
        return frozenset({expect})
    return frozenset(expect)


def _transition(kind: str, entity_id: str, table: dict[tuple[str, str], str], current: str,
                event: str | None, state: str | None) -> tuple[str, str | None]:
    """The new state for `event` (or the requested `state`) from `current`, checked
    against the state machine's table. No event and no new state: fields only."""
    if event is not None:
        target = table.get((current, event))
        if target is None or (state is not None and state != target):
            raise IllegalStateChange(entity_id=entity_id, current=current, event=event)
        return target, event
    if state is None or state == current:
        return current, None
    events = states.events_between(table, current, state)
    if not events:
        raise IllegalStateChange(entity_id=entity_id, current=current, event=f"-> {state}")
    return state, events[0]


def _check_owner(entity_id: str, current: Any, owner: Any, now: float) -> None:
    """A write in the name of `owner` is refused once someone else owns the row."""
    if owner is _UNSET or current.owner is None or current.owner == owner:
        return
    raise StateConflict(entity_id=entity_id, current=current.state, expected=current.state)


def _with_event(changes: dict[str, Any], event: str | None) -> dict[str, Any]:
    """The fields an update set, and the state machine's event that moved it."""
    return changes if event is None else {**changes, "event": event}


def _move_in(tmp: Path, path: Path) -> None:
    """Put the finished new ledger at `path` unless another process got there first
    (then theirs is kept: both are new and empty)."""
    if os.name == "nt":
        try:
            os.rename(tmp, path)  # refuses to replace an existing file
        except FileExistsError:
            pass
        return
    try:
        os.link(tmp, path)  # refuses to replace an existing file
    except FileExistsError:
        pass
    except OSError:  # a file system without hard links
        if not path.exists():
            os.replace(tmp, path)


def _day_bounds(day: datetime.date, tz: datetime.tzinfo | None) -> tuple[float, float]:
    """Unix times of the first instant of `day` and of the next day, in `tz` (None:
    the system's local time, daylight saving included)."""
    following = day + datetime.timedelta(days=1)
    if tz is None:
        start = datetime.datetime(day.year, day.month, day.day).astimezone()
        end = datetime.datetime(following.year, following.month, following.day).astimezone()
    else:
        start = datetime.datetime(day.year, day.month, day.day, tzinfo=tz)
        end = datetime.datetime(following.year, following.month, following.day, tzinfo=tz)
    return start.timestamp(), end.timestamp()


class Ledger(BooksMixin):
    """The order ledger. Thread-safe; use as a context manager or call close()."""

    _dumps = staticmethod(_dumps)

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        max_page_count: int | None = None,
        application_name: str = "cashier",
    ) -> None:
        """Open (creating and migrating if needed) the ledger at `path`: a SQLite file
        (default: cashier.paths.database_path()), or a postgresql://user@host/db URL
        (a shared ledger; its password comes from the keyring).

        busy_timeout_ms: how long to wait for another program's lock before LedgerBusy.
        max_page_count: cap the file at this many pages (PRAGMA max_page_count); writes
        beyond it fail like a full disk (LedgerFull). None: no cap. (SQLite only.)
        application_name: how the database server lists this connection (PostgreSQL).
        """
        self._clock = clock
        self._lock = threading.RLock()
        self._transitions: list[tuple] = []  # logged once their transaction commits
        self._conn: sqlite3.Connection | None = None
        self._pg = None  # postgres.Database for a shared ledger
        self._held = None  # the connection this process is using (PostgreSQL), while it is
        self._depth = 0
        self.busy_timeout_ms = int(busy_timeout_ms)
        self.integrity = "not checked"
        if postgres.is_url(path):
            self.url = str(path)
            self.path = None
            self.backend = "postgresql"
            self.where = postgres.display(self.url)
            self._database_errors = postgres.database_errors()
            self._integrity_errors = postgres.integrity_errors()
            self._pg = postgres.Database(self.url, application_name=application_name,
                                         lock_timeout_ms=self.busy_timeout_ms)
            try:
                with self._pg.connection() as conn:
                    self._migrate_postgres(conn)
            except BaseException as exc:
                self._pg.close()
                self._pg = None
                if isinstance(exc, self._database_errors):
                    raise self._translate(exc) from exc
                raise
            self.integrity = "ok"  # the server keeps its own pages whole
            return
        if path is None:
            from cashier.paths import database_path

            path = database_path()
        self.path = Path(path)
        self.url = ""
        self.backend = "sqlite"
        self.where = str(self.path)
        self._database_errors = (sqlite3.Error,)
        self._integrity_errors = (sqlite3.IntegrityError,)
        self._create_if_missing()
        try:
            conn = sqlite3.connect(
                str(self.path),
                timeout=self.busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc
        try:
            self._open(conn, max_page_count)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    # ------------------------------------------------------------------ opening

    def _create_if_missing(self) -> None:
        """A new ledger is built beside its place and moved in whole, so the ledger's
        path never holds a half-made file. A file already there with 0 bytes is then
        damaged (not new books): it is refused, never silently started afresh."""
        with paths.storing(self.path.parent):
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = None
            if size == 0:
                raise LedgerEmpty(path=str(self.path))
            if size is not None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.new-{os.getpid()}-{threading.get_ident()}")
            try:
                conn = sqlite3.connect(str(tmp), isolation_level=None)
                try:
                    self._open(conn, None, check=False)
                finally:
                    conn.close()  # the last connection: WAL checkpointed into the file
                _move_in(tmp, self.path)
            except sqlite3.Error as exc:
                raise self._translate(exc) from exc
            finally:
                for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                    try:
                        leftover.unlink()
                    except FileNotFoundError:
                        pass

    def _check(self, conn: sqlite3.Connection) -> None:
        """Refuse a damaged file at open: every page is read by PRAGMA quick_check on a
        ledger up to QUICK_CHECK_MAX_BYTES (about 15,000 orders with their events; ~25 ms
        on an idle 2-core machine, see bench/ledger_bench.py). A bigger one only gets the
        cheap check that the file is whole pages; the window runs `check_integrity()` on
        a worker after opening it, and the support bundle reads it all too."""
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        size = self.path.stat().st_size
        if size % page_size:
            raise LedgerCorrupt(path=str(self.path))
        if size <= QUICK_CHECK_MAX_BYTES:
            result = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()]
            self.integrity = "; ".join(" ".join(r.split()) for r in result[:20])
            if result != ["ok"]:
                log.error("ledger %s failed quick_check: %s", self.path, self.integrity)
                raise LedgerCorrupt(path=str(self.path))

    def _open(self, conn: sqlite3.Connection, max_page_count: int | None, *, check: bool = True) -> None:
        try:
            conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            if check:
                self._check(conn)
            found = schema.user_version(conn)
            if found > schema.SCHEMA_VERSION:
                raise SchemaTooNew(found=found, supported=schema.SCHEMA_VERSION, path=str(self.path))
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("ledger journal_mode is %s, not wal", mode)
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            if max_page_count is not None:
                conn.execute(f"PRAGMA max_page_count = {int(max_page_count)}")
            self._migrate(conn)
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc

    def _migrate(self, conn: sqlite3.Connection) -> None:
        if schema.user_version(conn) == schema.SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = schema.user_version(conn)  # another program may have migrated meanwhile
            if found > schema.SCHEMA_VERSION:
                raise SchemaTooNew(found=found, supported=schema.SCHEMA_VERSION, path=str(self.path))
            if found < schema.SCHEMA_VERSION:
                log.info("migrating ledger %s from version %d to %d", self.path, found, schema.SCHEMA_VERSION)
                schema.apply(conn, found)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _migrate_postgres(self, conn) -> None:
        """Bring a shared ledger to this version, once, under the ledger's write lock
        (two counters starting at once: the second finds it done)."""
        found = self._pg.user_version(conn)
        if found == schema.SCHEMA_VERSION:
            return
        if found > schema.SCHEMA_VERSION:
            raise SchemaTooNew(found=found, supported=schema.SCHEMA_VERSION, path=self.where)
        self._pg.begin_write(conn)
        try:
            found = self._pg.user_version(conn)
            if found > schema.SCHEMA_VERSION:
                raise SchemaTooNew(found=found, supported=schema.SCHEMA_VERSION, path=self.where)
            if found < schema.SCHEMA_VERSION:
                log.info("migrating ledger %s from version %d to %d", self.where, found, schema.SCHEMA_VERSION)
                schema.apply_postgres(conn, found)
                self._pg.set_user_version(conn, schema.SCHEMA_VERSION)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def settings(self) -> dict[str, Any]:
        """The connection's effective settings (for diagnostics and tests): SQLite's
        pragmas, or the PostgreSQL server's."""
        if self._pg is not None:
            with self._reading() as conn:
                return {"backend": "postgresql", **self._pg.settings(conn)}
        names = ("user_version", "journal_mode", "synchronous", "busy_timeout", "foreign_keys",
                 "page_count", "page_size", "max_page_count")
        with self._reading() as conn:
            return {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names}

    @property
    def schema_version(self) -> int:
        with self._reading() as conn:
            if self._pg is not None:
                return self._pg.user_version(conn)
            return schema.user_version(conn)

    def close(self) -> None:
        with self._lock:
            if self._pg is not None:
                try:
                    self._pg.close()
                finally:
                    self._pg = None
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Ledger {self.where!r}>"

    # ------------------------------------------------------------ transactions

    def _translate(self, exc: BaseException) -> LedgerError:
        if self._pg is not None or self.backend == "postgresql":
            mapped = postgres.translate_error(exc, self.where)
        else:
            mapped = translate(exc, str(self.path))
        if mapped is not None:
            return mapped
        return LedgerError(detail=str(exc))

    @contextmanager
    def _connected(self) -> Iterator[Any]:
        """The connection for one call (nested calls in the same thread share it):
        SQLite's one connection, or one from the PostgreSQL pool, held until the
        outermost call returns."""
        with self._lock:
            if self._pg is None:
                if self._conn is None:
                    raise LedgerClosed()
                yield self._conn
                return
            if self._held is not None:
                self._depth += 1
                try:
                    yield self._held
                finally:
                    self._depth -= 1
                return
            try:
                context = self._pg.connection()
                conn = context.__enter__()
            except self._database_errors as exc:
                raise self._translate(exc) from exc
            except Exception as exc:  # the pool's own timeout
                mapped = postgres.translate_error(exc, self.where)
                if mapped is None:
                    raise
                raise mapped from exc
            self._held = conn
            try:
                yield conn
            except BaseException as exc:
                self._held = None
                try:
                    context.__exit__(type(exc), exc, exc.__traceback__)
                except Exception:  # a broken connection: the pool replaces it
                    log.debug("ledger connection not returned cleanly", exc_info=True)
                raise
            else:
                self._held = None
                context.__exit__(None, None, None)

    def _begin_write(self, conn: Any) -> None:
        if self._pg is not None:
            self._pg.begin_write(conn)
        else:
            conn.execute("BEGIN IMMEDIATE")

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN and the
        ledger's advisory lock) ... COMMIT: all or nothing, durable on return."""
        with self._connected() as conn:
            try:
                self._begin_write(conn)
            except self._database_errors as exc:
                raise self._translate(exc) from exc
            try:
                yield conn
                conn.execute("COMMIT")
                for line in self._transitions:  # the log's trail of outcomes (details stay here)
                    log.info("%s %s: %s -> %s (%s, %s)", *line)
            except BaseException as exc:
                try:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                except self._database_errors:
                    log.exception("ledger rollback failed")
                if isinstance(exc, self._database_errors):
                    raise self._translate(exc) from exc
                raise
            finally:
                self._transitions.clear()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._connected() as conn:
            try:
                yield conn
            except self._database_errors as exc:
                raise self._translate(exc) from exc

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """Several reads that see one consistent state of the books."""
        with self._reading() as conn:
            if conn.in_transaction:  # inside a write: it already sees one state
                yield conn
                return
            if self._pg is not None:
                self._pg.begin_snapshot(conn)
            else:
                conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    def _event(
        self,
        conn: sqlite3.Connection,
        entity: str,
        entity_id: str,
        action: str,
        actor: str,
        old_state: str | None,
        new_state: str | None,
        detail: Any,
        changes: dict[str, Any] | None,
        at: float,
    ) -> int:
        _check_detail(detail)
        if old_state != new_state:
            self._transitions.append((entity, entity_id, old_state, new_state, action, actor))
        return int(conn.execute(
            "INSERT INTO events (at, entity, entity_id, action, actor, old_state, new_state, detail, changes)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (at, entity, entity_id, action, actor, old_state, new_state, _dumps(detail), _dumps(changes)),
        ).fetchone()[0])

    # ------------------------------------------------------------------ orders

    def create_order(
        self,
        *,
        out_trade_no: str,
        sale_id: str,
        counter_id: str,
        profile: str,
        gateway: str,
        method: str,
        wallet: str,
        amount: Decimal,
        subject: str = "",
        auth_code_last4: str | None = None,
        expires_at: float | None = None,
        actor: str = "clerk",
        amount_to_pay: Decimal | None = None,
        detail: dict[str, Any] | None = None,
        owner: str | None = None,
        lease_until: float | None = None,
        next_check_at: float | None = None,
    ) -> OrderRecord:
        """Record a new payment attempt in state "sending" (before its request leaves),
        owned by `owner` (the process about to send it) until `lease_until`."""
        if not out_trade_no or not isinstance(out_trade_no, str):
            raise ValueError("out_trade_no must be a non-empty string")
        check_amount(amount)
        if amount_to_pay is None:
            amount_to_pay = amount
        check_amount(amount_to_pay)
        _check_last4(auth_code_last4)
        now = self._clock()
        values = {
            "out_trade_no": out_trade_no,
            "sale_id": sale_id,
            "counter_id": counter_id,
            "profile": profile,
            "gateway": _plain(gateway),
            "method": _plain(method),
            "wallet": _plain(wallet),
            "amount_fen": to_fen(amount),
            "amount_to_pay_fen": to_fen(amount_to_pay),
            "state": states.SENDING,
            "subject": subject or "",
            "auth_code_last4": auth_code_last4,
            "expires_at": expires_at,
            "created_at": now,
            "updated_at": now,
            "owner": owner,
            "lease_until": lease_until,
            "next_check_at": next_check_at,
        }
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._writing() as conn:
            shift = self._open_shift_row(conn, counter_id)  # every order records its clerk and shift
            if shift is not None:
                values.update(shift_id=shift.shift_id, clerk=shift.clerk)
                columns = ", ".join(values)
                marks = ", ".join("?" for _ in values)
            try:
                # A savepoint: after a refused INSERT, PostgreSQL's transaction goes on.
                conn.execute("SAVEPOINT new_order")
                conn.execute(f"INSERT INTO orders ({columns}) VALUES ({marks})", tuple(values.values()))
                conn.execute("RELEASE SAVEPOINT new_order")
            except self._integrity_errors as exc:
                conn.execute("ROLLBACK TO SAVEPOINT new_order")
                if self._get_order(conn, out_trade_no) is not None:
                    raise DuplicateOrder(out_trade_no=out_trade_no) from None
                raise LedgerError(detail=str(exc)) from exc
            self._event(conn, "order", out_trade_no, "created", actor, None, states.SENDING,
                        detail, None, now)
            record = self._get_order(conn, out_trade_no)
        assert record is not None
        return record

    def update_order(
        self,
        out_trade_no: str,
        *,
        event: str | None = None,
        state: str | None = None,
        expect: str | Iterable[str] | None = None,
        actor: str = "engine",
        action: str | None = None,
        detail: dict[str, Any] | None = None,
        owner: Any = _UNSET,
        **fields: Any,
    ) -> OrderRecord:
        """Change fields and/or the state in one transaction, with an event row.

        event: what happened (cashier.ledger.states); the new state is the table's
        answer for (current state, event), or IllegalStateChange. `state` alone is
        accepted when the table has an event from the current state to it.
        expect: a state or set of states; if the order is in none of them, nothing
        changes and StateConflict is raised (compare-and-set).
        owner: when given, the row must be owned by it (or by nobody), else
        StateConflict: another process has taken it over. Reaching a state that is not
        in flight drops the ownership.
        Becoming "paid" fills paid_at (now) and paid_amount (amount_to_pay) unless given.
        """
        if state is not None and state not in states.ORDER_STATES:
            raise ValueError(f"unknown order state {state!r}")
        if "reason" in fields:  # before schema v3 reasons were free text
            fields["note"] = fields.pop("reason")
        bad = set(fields) - ORDER_MUTABLE_FIELDS
        if bad:
            raise TypeError(f"update_order() cannot set {', '.join(sorted(bad))}")
        if "auth_code_last4" in fields:
            _check_last4(fields["auth_code_last4"])
        for name in ORDER_MONEY_FIELDS & set(fields):
            value = fields[name]
            if name == "paid_amount":
                if value is not None and (to_fen(value) < 0):
                    raise ValueError("paid_amount cannot be negative")
            else:
                check_amount(value)
        allowed = _expect_set(expect)
        now = self._clock()
        with self._writing() as conn:
            current = self._get_order(conn, out_trade_no)
            if current is None:
                raise OrderNotFound(out_trade_no=out_trade_no)
            if allowed is not None and current.state not in allowed:
                raise StateConflict(entity_id=out_trade_no, current=current.state,
                                    expected="/".join(sorted(allowed)))
            _check_owner(out_trade_no, current, owner, now)
            new_state, event = _transition("order", out_trade_no, states.ORDER_TABLE, current.state, event, state)
            if new_state == states.PAID and current.state != states.PAID:
                if "paid_at" not in fields and current.paid_at is None:
                    fields["paid_at"] = now
                if "paid_amount" not in fields and current.paid_amount is None:
                    fields["paid_amount"] = current.amount_to_pay
            self._set(conn, "orders", "out_trade_no", out_trade_no, new_state, fields, now,
                      ORDER_MONEY_FIELDS, _column)
            self._event(conn, "order", out_trade_no, action or "update", actor, current.state,
                        new_state, detail, _with_event(fields, event), now)
            record = self._get_order(conn, out_trade_no)
        assert record is not None
        return record

    def mark_checked(
        self,
        out_trade_no: str,
        *,
        state: str,
        actor: str,
        detail: dict[str, Any] | None = None,
        **fields: Any,
    ) -> OrderRecord:
        """A person settled a needs_check order: set its final state and who checked."""
        if state not in states.FINAL_ORDER_STATES:
            raise ValueError(f"a checked order must get a final state, not {state!r}")
        event = states.CHECKED_PAID if state == states.PAID else states.CHECKED_UNPAID
        return self.update_order(out_trade_no, event=event, state=state, expect=states.NEEDS_CHECK, actor=actor,
                                 action="checked", detail=detail, checked_by=actor, **fields)

    def touch_order(self, out_trade_no: str, *, next_check_at: float | None) -> OrderRecord:
        """Count one more query and schedule the next one, without an event row (a poll
        every 5 s would otherwise flood the audit log). No state change."""
        return self._touch("orders", "out_trade_no", out_trade_no, next_check_at)

    def reschedule_order(
        self,
        out_trade_no: str,
        *,
        next_check_at: float | None,
        expect: str | Iterable[str] | None = None,
        check_count: int | None = None,
        owner: Any = _UNSET,
    ) -> OrderRecord:
        """Set when the order is looked at next (and optionally its error count),
        without an event row and without a state change: a poll is not an event.
        `expect` guards against a concurrent state change (compare-and-set), `owner`
        against a takeover."""
        allowed = _expect_set(expect)
        now = self._clock()
        with self._writing() as conn:
            current = self._get_order(conn, out_trade_no)
            if current is None:
                raise OrderNotFound(out_trade_no=out_trade_no)
            if allowed is not None and current.state not in allowed:
                raise StateConflict(entity_id=out_trade_no, current=current.state,
                                    expected="/".join(sorted(allowed)))
            _check_owner(out_trade_no, current, owner, now)
            conn.execute(
                "UPDATE orders SET next_check_at = ?, check_count = ?, updated_at = ? WHERE out_trade_no = ?",
                (next_check_at, current.check_count if check_count is None else check_count, now, out_trade_no),
            )
            record = self._get_order(conn, out_trade_no)
        assert record is not None
        return record

    # ------------------------------------------------------------- ownership

    def claim(self, entity: str, number: str, owner: str, lease_until: float, *,
              gone: Callable[[str], bool] = lambda owner: False) -> tuple[Any, str | None] | None:
        """Make `owner` the one process working on this order ("order") or refund
        ("refund") until `lease_until`. Granted when nobody owns it, `owner` already
        does, the owner's lease ran out, or `gone(owner)` says its process is dead.
        Returns (record, previous owner taken over or None), or None when another
        live process holds it."""
        table, key, get = self._entity(entity)
        now = self._clock()
        with self._writing() as conn:
            current = get(conn, number)
            if current is None:
                return None
            previous = current.owner
            if previous not in (None, owner):
                expired = current.lease_until is None or current.lease_until <= now
                if not expired and not gone(previous):
                    return None
            conn.execute(f"UPDATE {table} SET owner = ?, lease_until = ? WHERE {key} = ?",
                         (owner, lease_until, number))
            if previous not in (None, owner):
                self._event(conn, entity, number, "taken_over", owner, current.state, current.state,
                            {"from": previous}, None, now)
            record = get(conn, number)
        return record, (previous if previous not in (None, owner) else None)

    def release(self, entity: str, number: str, owner: str) -> None:
        """Drop `owner`'s claim: its request has been answered (or never left)."""
        table, key, _ = self._entity(entity)
        with self._writing() as conn:
            conn.execute(f"UPDATE {table} SET owner = NULL, lease_until = NULL WHERE {key} = ? AND owner = ?",
                         (number, owner))

    def hold(self, entity: str, number: str, owner: str, lease_until: float, state: str) -> bool:
        """Renew `owner`'s claim on a row still in `state`, right before its request
        leaves: False when it was taken over meanwhile (then the request must not leave)."""
        table, key, _ = self._entity(entity)
        with self._writing() as conn:
            cursor = conn.execute(f"UPDATE {table} SET lease_until = ? WHERE {key} = ? AND owner = ? AND state = ?",
                                  (lease_until, number, owner, state))
            return cursor.rowcount == 1

    def renew_leases(self, owner: str, lease_until: float) -> int:
        """Extend every claim of `owner` (a process renews while it waits for answers).
        A row still being sent is looked at again when its lease ends, so that a
        process that dies mid-request is taken over by whoever runs then."""
        with self._writing() as conn:
            count = 0
            for table, sending in (("orders", states.SENDING), ("refunds", states.REFUND_SENDING)):
                count += conn.execute(
                    f"UPDATE {table} SET lease_until = ?,"
                    " next_check_at = CASE WHEN state = ? THEN ? ELSE next_check_at END WHERE owner = ?",
                    (lease_until, sending, lease_until, owner)).rowcount
        return count

    def _entity(self, entity: str) -> tuple[str, str, Callable[[sqlite3.Connection, str], Any]]:
        if entity == "order":
            return "orders", "out_trade_no", self._get_order
        if entity == "refund":
            return "refunds", "out_refund_no", self._get_refund
        raise ValueError(f"no such entity {entity!r}")

    # ------------------------------------------------------------- counters

    def heartbeat(self, counter_id: str, owner: str, lease_until: float) -> str | None:
        """Counter `counter_id` (run by process `owner`) is alive until `lease_until`.
        Returns the owner of another live process that was holding the same counter id
        (two processes of one counter, or two counters given the same id), else None."""
        now = self._clock()
        with self._writing() as conn:
            row = conn.execute("SELECT owner, lease_until FROM counters WHERE counter_id = ?",
                               (counter_id,)).fetchone()
            # The first live process keeps the row (a cashier-cli run beside the window
            # extends the lease, and leaving does not end the window's).
            conn.execute(
                "INSERT INTO counters (counter_id, owner, lease_until, started_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (counter_id) DO UPDATE SET"
                " owner = CASE WHEN counters.lease_until > ? THEN counters.owner ELSE excluded.owner END,"
                " lease_until = CASE WHEN excluded.lease_until > counters.lease_until"
                " THEN excluded.lease_until ELSE counters.lease_until END",
                (counter_id, owner, lease_until, now, now))
        if row is not None and row[0] != owner and row[1] > now:
            return str(row[0])
        return None

    def live_counters(self, now: float | None = None) -> dict[str, float]:
        """Counters whose lease has not run out: counter id -> lease end."""
        if now is None:
            now = self._clock()
        with self._reading() as conn:
            rows = conn.execute("SELECT counter_id, lease_until FROM counters WHERE lease_until > ?",
                                (now,)).fetchall()
        return {str(c): float(t) for c, t in rows}

    def leave(self, counter_id: str, owner: str) -> None:
        """The counter closes cleanly: its open orders may be taken over at once."""
        now = self._clock()
        with self._writing() as conn:
            conn.execute("UPDATE counters SET lease_until = ? WHERE counter_id = ? AND owner = ?",
                         (now, counter_id, owner))

    # ------------------------------------------------------------ rate slots

    def reserve_slot(self, name: str, interval: float, now: float | None = None) -> float:
        """One call per `interval` seconds for `name` (a merchant's interface), across
        every process on these books: 0 when the caller may go now (the slot is taken),
        else the seconds to wait."""
        if now is None:
            now = self._clock()
        with self._writing() as conn:
            row = conn.execute("SELECT next_at FROM rate_slots WHERE name = ?", (name,)).fetchone()
            if row is not None and now < row[0]:
                return float(row[0]) - now
            conn.execute(
                "INSERT INTO rate_slots (name, next_at) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET next_at = excluded.next_at",
                (name, now + interval),
            )
        return 0.0

    def push_slot(self, name: str, until: float) -> None:
        """Nobody calls `name` before `until` (the call just ended, or the gateway said
        "too often")."""
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO rate_slots (name, next_at) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET next_at = CASE WHEN excluded.next_at > rate_slots.next_at"
                " THEN excluded.next_at ELSE rate_slots.next_at END",
                (name, until),
            )

    def _touch(self, table: str, key: str, no: str, next_check_at: float | None) -> Any:
        now = self._clock()
        with self._writing() as conn:
            cursor = conn.execute(
                f"UPDATE {table} SET check_count = check_count + 1, next_check_at = ?, updated_at = ?"
                f" WHERE {key} = ?",
                (next_check_at, now, no),
            )
            if cursor.rowcount == 0:
                if table == "orders":
                    raise OrderNotFound(out_trade_no=no)
                raise RefundNotFound(out_refund_no=no)
            record = self._get_order(conn, no) if table == "orders" else self._get_refund(conn, no)
        return record

    def _set(
        self,
        conn: sqlite3.Connection,
        table: str,
        key: str,
        key_value: str,
        new_state: str,
        fields: dict[str, Any],
        now: float,
        money: frozenset[str],
        column: Callable[[str], str],
    ) -> None:
        assignments = ["state = ?", "updated_at = ?"]
        params: list[Any] = [new_state, now]
        for name, value in fields.items():
            assignments.append(f"{column(name)} = ?")
            if name in money:
                params.append(None if value is None else to_fen(value))
            elif name in JSON_FIELDS:
                params.append(_dumps(value))
            else:
                params.append(_plain(value))
        params.append(key_value)
        conn.execute(f"UPDATE {table} SET {', '.join(assignments)} WHERE {key} = ?", params)

    @staticmethod
    def _get_order(conn: sqlite3.Connection, out_trade_no: str) -> OrderRecord | None:
        row = conn.execute(f"{_ORDER_SELECT} WHERE out_trade_no = ?", (out_trade_no,)).fetchone()
        return None if row is None else _order(row)

    def get_order(self, out_trade_no: str) -> OrderRecord | None:
        with self._reading() as conn:
            return self._get_order(conn, out_trade_no)

    def orders_for_sale(self, sale_id: str) -> list[OrderRecord]:
        """Every attempt of one sale, oldest first."""
        with self._reading() as conn:
            rows = conn.execute(
                f"{_ORDER_SELECT} WHERE sale_id = ? ORDER BY created_at, out_trade_no", (sale_id,)
            ).fetchall()
        return [_order(r) for r in rows]

    def unresolved_orders(self) -> list[OrderRecord]:
        """Every order not in a final state (needs_check included), oldest first."""
        with self._reading() as conn:
            rows = conn.execute(
                f"{_ORDER_SELECT} INDEXED BY orders_unresolved WHERE {_ORDER_UNRESOLVED_SQL}"
            ).fetchall()
        return sorted((_order(r) for r in rows), key=lambda o: (o.created_at, o.out_trade_no))

    def due_orders(self, now: float | None = None) -> list[OrderRecord]:
        """Unresolved orders whose next_check_at has come, soonest first."""
        if now is None:
            now = self._clock()
        with self._reading() as conn:
            rows = conn.execute(
                f"{_ORDER_SELECT} INDEXED BY orders_unresolved"
                f" WHERE {_ORDER_UNRESOLVED_SQL} AND next_check_at <= ?"
                " ORDER BY next_check_at, out_trade_no",
                (now,),
            ).fetchall()
        return [_order(r) for r in rows]

    def history(
        self,
        limit: int = 50,
        before: OrderRecord | tuple[float, str] | None = None,
    ) -> list[OrderRecord]:
        """Orders newest first. For the next page pass the last record of this one (or
        its page_key) as `before`."""
        if isinstance(before, OrderRecord):
            before = before.page_key
        with self._reading() as conn:
            if before is None:
                rows = conn.execute(
                    f"{_ORDER_SELECT} INDEXED BY orders_history"
                    " ORDER BY created_at DESC, out_trade_no DESC LIMIT ?",
                    (int(limit),),
                ).fetchall()
            else:
                created_at, out_trade_no = before
                rows = conn.execute(
                    f"{_ORDER_SELECT} INDEXED BY orders_history"
                    " WHERE (created_at, out_trade_no) < (?, ?)"
                    " ORDER BY created_at DESC, out_trade_no DESC LIMIT ?",
                    (created_at, out_trade_no, int(limit)),
                ).fetchall()
        return [_order(r) for r in rows]

    def find(self, text: str) -> list[OrderRecord]:
        """Orders whose out_trade_no or gateway_trade_no is exactly `text`; a refund
        number (ours or the gateway's) finds the refunded order."""
        text = (text or "").strip()
        if not text:
            return []
        with self._reading() as conn:
            rows = conn.execute(f"{_ORDER_SELECT} WHERE out_trade_no = ?", (text,)).fetchall()
            rows += conn.execute(
                f"{_ORDER_SELECT} WHERE gateway_trade_no = ? AND gateway_trade_no IS NOT NULL", (text,)
            ).fetchall()
            rows += conn.execute(
                f"{_ORDER_SELECT} WHERE out_trade_no IN ("
                " SELECT out_trade_no FROM refunds WHERE out_refund_no = ?"
                " UNION SELECT out_trade_no FROM refunds"
                "  WHERE gateway_refund_no = ? AND gateway_refund_no IS NOT NULL)",
                (text, text),
            ).fetchall()
        seen: dict[str, OrderRecord] = {}
        for row in rows:
            record = _order(row)
            seen.setdefault(record.out_trade_no, record)
        return list(seen.values())

    def search_orders(
        self,
        query: OrderQuery | None = None,
        *,
        limit: int = 50,
        before: HistoryEntry | OrderRecord | tuple[float, str] | None = None,
    ) -> list[HistoryEntry]:
        """A page of orders matching `query`, newest first, each with what was refunded
        on it. For the next page pass the last entry of this one as `before`.

        Every filter runs on an index that yields rows newest first (orders_amount,
        orders_paid_amount, orders_wallet, orders_state, orders_history), so a page
        costs about `limit` index steps however many orders the ledger holds (the
        refund states scan the refunds table, which stays small).
        """
        query = query or OrderQuery()
        limit = max(1, int(limit))
        if isinstance(before, (HistoryEntry, OrderRecord)):
            before = before.page_key
        if query.number is not None and query.number.strip():
            found = sorted(self.find(query.number), key=lambda o: o.page_key, reverse=True)
            if before is not None:
                found = [o for o in found if o.page_key < tuple(before)]
            with self._reading() as conn:
                return self._with_refunds(conn, found[:limit])
        where: list[str] = []
        params: list[Any] = []
        if query.since is not None:
            where.append("created_at >= ?")
            params.append(float(query.since))
        if query.until is not None:
            where.append("created_at < ?")
            params.append(float(query.until))
        if query.wallet is not None:
            where.append("wallet = ?")
            params.append(_plain(query.wallet))
        if before is not None:
            where.append("(created_at, out_trade_no) < (?, ?)")
            params.extend((float(before[0]), str(before[1])))
        # Branches: disjoint parts of the answer, each walked newest first on its own
        # index (INDEXED BY: the plan does not depend on planner statistics), merged.
        status = query.status
        if query.amount is not None:
            check_amount(query.amount)
            fen = to_fen(query.amount)
            branches = [("orders_amount", ["amount_fen = ?"], [fen]),
                        ("orders_paid_amount", [f"{_SHOWN_AMOUNT_SQL} = ?", _SHOWN_AMOUNT_DIFFERS_SQL], [fen])]
        elif status == "unresolved":  # few: their partial index, then a small sort
            branches = [("orders_unresolved", [_ORDER_UNRESOLVED_SQL], [])]
            status = None
        elif status in _REFUND_STATUSES:  # the refunded orders' own index, newest first
            branches = [("orders_refunded", [], [])]
        elif query.wallet is not None:  # a wallet nobody used must not walk every paid order
            branches = [("orders_wallet", [], [])]
        elif status == "not_paid":  # one walk per state: an IN list would need a sort
            branches = [("orders_state", ["state = ?"], [s]) for s in sorted(states.FINAL_ORDER_STATES - {states.PAID})]
            status = None
        else:
            branches = [(None, [], [])]
        if status is not None:
            clause, extra = _STATUS_SQL[status]
            where.append(clause)
            params.extend(extra)
        with self._snapshot() as conn:
            rows: list[tuple] = []
            for index, own, own_params in branches:
                sql = f"{_ORDER_SELECT}" + (f" INDEXED BY {index}" if index else "")
                clauses = own + where
                if clauses:
                    sql += " WHERE " + " AND ".join(clauses)
                sql += " ORDER BY created_at DESC, out_trade_no DESC LIMIT ?"
                rows += conn.execute(sql, (*own_params, *params, limit)).fetchall()
            orders = sorted((_order(r) for r in rows), key=lambda o: o.page_key, reverse=True)[:limit]
            return self._with_refunds(conn, orders)

    def history_entry(self, out_trade_no: str) -> HistoryEntry | None:
        """One order with what was refunded on it (None: no such order)."""
        with self._reading() as conn:
            order = self._get_order(conn, out_trade_no)
            return None if order is None else self._with_refunds(conn, [order])[0]

    @staticmethod
    def _with_refunds(conn: sqlite3.Connection, orders: list[OrderRecord]) -> list[HistoryEntry]:
        if not orders:
            return []
        marks = ", ".join("?" for _ in orders)
        sums: dict[str, dict[str, int]] = {}
        for no, state, fen in conn.execute(
            f"SELECT out_trade_no, state, sum(amount_fen) FROM refunds WHERE out_trade_no IN ({marks})"
            " GROUP BY out_trade_no, state",
            [o.out_trade_no for o in orders],
        ):
            sums.setdefault(no, {})[state] = int(fen)
        entries = []
        for order in orders:
            by_state = sums.get(order.out_trade_no, {})
            done = by_state.get(states.REFUND_SUCCEEDED, 0)
            open_ = sum(fen for state, fen in by_state.items() if state in states.UNRESOLVED_REFUND_STATES)
            entries.append(HistoryEntry(order, from_fen(done), from_fen(open_),
                                        disputed=bool(open_) and Ledger._refund_disputed(conn, order.out_trade_no)))
        return entries

    def orders_created_between(self, start: float, end: float, *, page: int = 5000
                               ) -> Iterator[tuple[OrderRecord, Decimal]]:
        """(order, refunded) for orders created in [start, end), oldest first, read in
        keyset pages (orders_history) so a big export never holds the lock for long."""
        after: tuple[float, str] = (start, "")
        while True:
            with self._reading() as conn:
                rows = conn.execute(
                    f"SELECT {_ORDER_COLUMNS}, refunded_fen FROM orders"
                    " WHERE created_at >= ? AND created_at < ? AND (created_at > ? OR out_trade_no > ?)"
                    " ORDER BY created_at, out_trade_no LIMIT ?",
                    (after[0], end, after[0], after[1], page)).fetchall()
            for row in rows:
                yield _order(row[:-1]), from_fen(int(row[-1]))
            if len(rows) < page:
                return
            after = (rows[-1][ORDER_FIELDS.index("created_at")], rows[-1][0])

    def orders_of_profile_between(self, profile: str, start: float, end: float
                                  ) -> list[tuple[OrderRecord, Decimal]]:
        """(order, refunded) for one profile's orders created in [start, end), oldest
        first (index orders_profile_day): what reconciliation asks the gateway about."""
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_ORDER_COLUMNS}, refunded_fen FROM orders WHERE profile = ? AND created_at >= ?"
                " AND created_at < ? ORDER BY created_at, out_trade_no", (profile, start, end)).fetchall()
        return [(_order(r[:-1]), from_fen(int(r[-1]))) for r in rows]

    def refunds_created_between(self, start: float, end: float) -> list[tuple[RefundRecord, OrderRecord]]:
        """(refund, its order) for refunds created in [start, end), oldest first."""
        with self._reading() as conn:
            rows = conn.execute(
                f"{_REFUND_SELECT} WHERE created_at >= ? AND created_at < ? ORDER BY created_at, out_refund_no",
                (start, end)).fetchall()
            refunds = [_refund(r) for r in rows]
            return [(r, self._get_order(conn, r.out_trade_no)) for r in refunds]

    def count_orders(self) -> int:
        with self._reading() as conn:
            return int(conn.execute("SELECT count(*) FROM orders").fetchone()[0])

    # ----------------------------------------------------------------- refunds

    def _refundable(self, conn: sqlite3.Connection, order: OrderRecord) -> Decimal:
        if order.state != states.PAID or order.paid_amount is None:
            return Decimal("0.00")
        if self._refund_disputed(conn, order.out_trade_no):
            return Decimal("0.00")
        holding = tuple(sorted(states.REFUND_HOLDING_STATES))
        marks = ", ".join("?" for _ in holding)
        held = conn.execute(
            f"SELECT coalesce(sum(amount_fen), 0) FROM refunds WHERE out_trade_no = ? AND state IN ({marks})",
            (order.out_trade_no, *holding),
        ).fetchone()[0]
        return max(order.paid_amount - from_fen(int(held)), Decimal("0.00"))

    @staticmethod
    def _refund_disputed(conn: sqlite3.Connection, out_trade_no: str) -> bool:
        """A refund of the order is open with an amount the gateway contradicts."""
        open_ = tuple(sorted(states.UNRESOLVED_REFUND_STATES))
        codes = tuple(sorted(states.REFUND_DISPUTED_CODES))
        return conn.execute(
            f"SELECT 1 FROM refunds WHERE out_trade_no = ? AND state IN ({', '.join('?' for _ in open_)})"
            f" AND failure_code IN ({', '.join('?' for _ in codes)}) LIMIT 1",
            (out_trade_no, *open_, *codes),
        ).fetchone() is not None

    def refundable(self, out_trade_no: str) -> Decimal:
        """paid_amount − (succeeded + in-progress refunds); 0 unless the order is paid."""
        with self._reading() as conn:
            order = self._get_order(conn, out_trade_no)
            if order is None:
                raise OrderNotFound(out_trade_no=out_trade_no)
            return self._refundable(conn, order)

    def create_refund(
        self,
        *,
        out_refund_no: str,
        out_trade_no: str,
        amount: Decimal,
        reason: str,
        actor: str,
        detail: dict[str, Any] | None = None,
        owner: str | None = None,
        lease_until: float | None = None,
        next_check_at: float | None = None,
        counter_id: str | None = None,
    ) -> RefundRecord:
        """Record a refund in state "sending" (before its request leaves), checking in
        the same transaction that it fits in what is still refundable. It records the
        shift open at `counter_id` (default: the order's counter) and its clerk."""
        if not out_refund_no or not isinstance(out_refund_no, str):
            raise ValueError("out_refund_no must be a non-empty string")
        check_amount(amount)
        now = self._clock()
        with self._writing() as conn:
            order = self._get_order(conn, out_trade_no)
            if order is None:
                raise OrderNotFound(out_trade_no=out_trade_no)
            if self._get_refund(conn, out_refund_no) is not None:
                raise DuplicateRefund(out_refund_no=out_refund_no)
            refundable = self._refundable(conn, order)
            if order.state != states.PAID:
                error = RefundTooLarge("ledger.refund_not_paid", out_trade_no=out_trade_no,
                                       state=order.state, refundable=format_yuan(refundable),
                                       amount=format_yuan(amount))
                error.refundable = refundable
                raise error
            if amount > refundable:
                error = RefundTooLarge(out_trade_no=out_trade_no, amount=format_yuan(amount),
                                       refundable=format_yuan(refundable))
                error.refundable = refundable
                raise error
            shift = self._open_shift_row(conn, counter_id or order.counter_id)
            conn.execute(
                "INSERT INTO refunds (out_refund_no, out_trade_no, amount_fen, state, reason, actor,"
                " created_at, updated_at, owner, lease_until, next_check_at, shift_id, clerk, counter_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (out_refund_no, out_trade_no, to_fen(amount), states.REFUND_SENDING, reason or "",
                 actor, now, now, owner, lease_until, next_check_at, shift.shift_id if shift else None,
                 shift.clerk if shift else None, counter_id),
            )
            event_detail = {"out_trade_no": out_trade_no, "amount": amount, "reason": reason or ""}
            event_detail.update(detail or {})
            self._event(conn, "refund", out_refund_no, "created", actor, None, states.REFUND_SENDING,
                        event_detail, None, now)
            record = self._get_refund(conn, out_refund_no)
        assert record is not None
        return record

    def update_refund(
        self,
        out_refund_no: str,
        *,
        event: str | None = None,
        state: str | None = None,
        expect: str | Iterable[str] | None = None,
        actor: str = "engine",
        action: str | None = None,
        detail: dict[str, Any] | None = None,
        owner: Any = _UNSET,
        **fields: Any,
    ) -> RefundRecord:
        """Like update_order. Reaching a final state fills finished_at (now) unless given."""
        if state is not None and state not in states.REFUND_STATES:
            raise ValueError(f"unknown refund state {state!r}")
        if "failure_reason" in fields:  # before schema v3 reasons were free text
            fields["failure_note"] = fields.pop("failure_reason")
        bad = set(fields) - REFUND_MUTABLE_FIELDS
        if bad:
            raise TypeError(f"update_refund() cannot set {', '.join(sorted(bad))}")
        allowed = _expect_set(expect)
        now = self._clock()
        with self._writing() as conn:
            current = self._get_refund(conn, out_refund_no)
            if current is None:
                raise RefundNotFound(out_refund_no=out_refund_no)
            if allowed is not None and current.state not in allowed:
                raise StateConflict(entity_id=out_refund_no, current=current.state,
                                    expected="/".join(sorted(allowed)))
            _check_owner(out_refund_no, current, owner, now)
            new_state, event = _transition("refund", out_refund_no, states.REFUND_TABLE, current.state, event, state)
            if (new_state in states.FINAL_REFUND_STATES and current.state not in states.FINAL_REFUND_STATES
                    and "finished_at" not in fields and current.finished_at is None):
                fields["finished_at"] = now
            self._set(conn, "refunds", "out_refund_no", out_refund_no, new_state, fields, now,
                      REFUND_MONEY_FIELDS, _refund_column)
            self._event(conn, "refund", out_refund_no, action or "update", actor, current.state,
                        new_state, detail, _with_event(fields, event), now)
            record = self._get_refund(conn, out_refund_no)
        assert record is not None
        return record

    def touch_refund(self, out_refund_no: str, *, next_check_at: float | None) -> RefundRecord:
        """Count one more refund query and schedule the next one, without an event row."""
        return self._touch("refunds", "out_refund_no", out_refund_no, next_check_at)

    @staticmethod
    def _get_refund(conn: sqlite3.Connection, out_refund_no: str) -> RefundRecord | None:
        row = conn.execute(f"{_REFUND_SELECT} WHERE out_refund_no = ?", (out_refund_no,)).fetchone()
        return None if row is None else _refund(row)

    def get_refund(self, out_refund_no: str) -> RefundRecord | None:
        with self._reading() as conn:
            return self._get_refund(conn, out_refund_no)

    def refunds_for(self, out_trade_no: str) -> list[RefundRecord]:
        with self._reading() as conn:
            rows = conn.execute(
                f"{_REFUND_SELECT} WHERE out_trade_no = ? ORDER BY created_at, out_refund_no",
                (out_trade_no,),
            ).fetchall()
        return [_refund(r) for r in rows]

    def unresolved_refunds(self) -> list[RefundRecord]:
        with self._reading() as conn:
            rows = conn.execute(
                f"{_REFUND_SELECT} INDEXED BY refunds_unresolved WHERE {_REFUND_UNRESOLVED_SQL}"
            ).fetchall()
        return sorted((_refund(r) for r in rows), key=lambda r: (r.created_at, r.out_refund_no))

    def due_refunds(self, now: float | None = None) -> list[RefundRecord]:
        if now is None:
            now = self._clock()
        with self._reading() as conn:
            rows = conn.execute(
                f"{_REFUND_SELECT} INDEXED BY refunds_unresolved"
                f" WHERE {_REFUND_UNRESOLVED_SQL} AND next_check_at <= ?"
                " ORDER BY next_check_at, out_refund_no",
                (now,),
            ).fetchall()
        return [_refund(r) for r in rows]

    # ------------------------------------------------------------------ events

    def record_event(
        self,
        entity: str,
        entity_id: str,
        action: str,
        actor: str,
        detail: dict[str, Any] | None = None,
    ) -> Event:
        """An audit line without a state change ("manager approved refund", ...)."""
        now = self._clock()
        with self._writing() as conn:
            event_id = self._event(conn, entity, entity_id, action, actor, None, None, detail, None, now)
            row = conn.execute(f"{_EVENT_SELECT} WHERE id = ?", (event_id,)).fetchone()
        return _event(row)

    def events(self, entity_id: str, entity: str | None = None) -> list[Event]:
        """The events of one order or refund (by its number), oldest first."""
        with self._reading() as conn:
            if entity is None:
                rows = conn.execute(f"{_EVENT_SELECT} WHERE entity_id = ? ORDER BY id", (entity_id,)).fetchall()
            else:
                rows = conn.execute(
                    f"{_EVENT_SELECT} WHERE entity_id = ? AND entity = ? ORDER BY id", (entity_id, entity)
                ).fetchall()
        return [_event(r) for r in rows]

    # --------------------------------------------------------------- counters

    def next_sequence(self, name: str) -> int:
        """1, 2, 3... per name, persistent and atomic (also across programs)."""
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO sequences (name, value) VALUES (?, 1)"
                " ON CONFLICT (name) DO UPDATE SET value = sequences.value + 1",
                (name,),
            )
            value = conn.execute("SELECT value FROM sequences WHERE name = ?", (name,)).fetchone()[0]
        return int(value)

    # ------------------------------------------------------------------ report

    def daily_report(self, day: datetime.date, *, tz: datetime.tzinfo | None = None,
                     counter_id: str | None = None) -> Report:
        """The local day's takings per gateway and wallet; unresolved orders and refunds
        (of any day) first. tz None: the system's local time. counter_id: only what
        that counter took (its orders) and gave back (the refunds made there, whichever
        counter took the order); None: the whole shop."""
        try:
            start, end = _day_bounds(day, tz)
        except (OverflowError, ValueError, OSError):  # 9999-12-31 has no next day, year 1 no local time
            raise DayOutOfRange(day=day.isoformat()) from None
        paid_marks = ", ".join("?" for _ in _REPORT_PAID_STATES)
        order_filter, refund_filter, by_counter = "", "", ()
        if counter_id is not None:
            order_filter, refund_filter, by_counter = " AND counter_id = ?", " AND r.counter_id = ?", (counter_id,)
        with self._snapshot() as conn:
            paid = conn.execute(
                "SELECT gateway, wallet, count(*), coalesce(sum(paid_amount_fen), 0)"
                " FROM orders INDEXED BY orders_paid_at"
                f" WHERE paid_at IS NOT NULL AND paid_at >= ? AND paid_at < ? AND state IN ({paid_marks})"
                f"{order_filter} GROUP BY gateway, wallet",
                (start, end, *_REPORT_PAID_STATES, *by_counter),
            ).fetchall()
            refunded = conn.execute(
                "SELECT o.gateway, o.wallet, count(*), coalesce(sum(r.amount_fen), 0)"
                " FROM refunds AS r INDEXED BY refunds_finished JOIN orders AS o USING (out_trade_no)"
                " WHERE r.state = 'succeeded' AND r.finished_at >= ? AND r.finished_at < ?"
                f"{refund_filter} GROUP BY o.gateway, o.wallet",
                (start, end, *by_counter),
            ).fetchall()
            held = conn.execute(
                f"{_ORDER_SELECT} INDEXED BY orders_paid_at"
                " WHERE paid_at IS NOT NULL AND paid_at >= ? AND paid_at < ? AND state = ? AND EXISTS"
                " (SELECT 1 FROM events WHERE entity_id = orders.out_trade_no AND entity = 'order' AND action = ?)"
                f"{order_filter} ORDER BY paid_at, out_trade_no",
                (start, end, states.PAID, HELD_ACTION, *by_counter),
            ).fetchall()
            # Quietly watched orders (cancelled) are not for a person until money comes.
            unresolved_orders = [o for o in self.unresolved_orders() if o.state in states.ATTENTION_ORDER_STATES
                                 and counter_id in (None, o.counter_id)]
            unresolved_refunds = [r for r in self.unresolved_refunds() if counter_id in (None, r.counter_id)]
            cash = self.cash_day(start, end, counter_id)
        lines: dict[tuple[str, str], ReportLine] = {}
        sales, refunds_ = cash.get("sale", (0, Decimal("0.00"))), cash.get("refund", (0, Decimal("0.00")))
        if sales[0] or refunds_[0]:  # cash never touches a gateway, but it is in every report
            lines[(METHOD_CASH, METHOD_CASH)] = ReportLine(METHOD_CASH, METHOD_CASH, sales[0], sales[1],
                                                           refunds_[0], -refunds_[1])
        for gateway, wallet, count, fen in paid:
            lines[(gateway, wallet)] = ReportLine(gateway, wallet, paid_count=count, paid_sum=from_fen(fen))
        for gateway, wallet, count, fen in refunded:
            line = lines.get((gateway, wallet), ReportLine(gateway, wallet))
            lines[(gateway, wallet)] = ReportLine(
                gateway, wallet, line.paid_count, line.paid_sum, refund_count=count, refund_sum=from_fen(fen)
            )
        ordered = tuple(lines[k] for k in sorted(lines))
        totals = ReportLine(
            "", "",
            paid_count=sum(line.paid_count for line in ordered),
            paid_sum=sum((line.paid_sum for line in ordered), Decimal("0.00")),
            refund_count=sum(line.refund_count for line in ordered),
            refund_sum=sum((line.refund_sum for line in ordered), Decimal("0.00")),
        )
        return Report(day, start, end, tuple(unresolved_orders), tuple(unresolved_refunds), ordered, totals,
                      cash_in=cash.get("in", (0, Decimal("0.00")))[1],
                      cash_out=-cash.get("out", (0, Decimal("0.00")))[1],
                      reconciliation=tuple(self.recon_summary(day.isoformat())),
                      held_orders=tuple(_order(r) for r in held), counter_id=counter_id)

    # ------------------------------------------------------------- maintenance

    def check_integrity(self) -> None:
        """PRAGMA quick_check of the whole file on a connection of its own (read-only),
        so that the engine's writes go on meanwhile (WAL); seconds on a big ledger, run it
        off the GUI thread. Raises LedgerCorrupt when it finds damage. (A shared
        PostgreSQL ledger: the server keeps its pages whole; nothing to read here.)"""
        if self.backend == "postgresql":
            self.integrity = "ok"
            return
        try:
            self.integrity = quick_check(self.path)
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc
        if self.integrity != "ok":
            log.error("ledger %s failed quick_check: %s", self.path, self.integrity)
            raise LedgerCorrupt(path=str(self.path))


def quick_check(path: Path) -> str:
    """"ok", or SQLite's findings on one line: PRAGMA quick_check on a read-only
    connection of its own (it never changes the file)."""
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=2)
    try:
        result = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()]
    finally:
        conn.close()
    return "; ".join(" ".join(r.split()) for r in result[:20])
