"""The ledger's PostgreSQL dialect: several counters share one set of books.

The ledger (db.py) keeps ONE set of SQL, written for SQLite with `?` placeholders.
This module is the thin layer that runs it on PostgreSQL through psycopg 3:

- placeholders `?` become `%s`; SQLite's `INDEXED BY` hints are dropped (PostgreSQL's
  planner picks the same partial indexes itself); sums of integer fen come back as int;
- connections come from a psycopg-pool pool, which reconnects on its own when the
  server comes back after an outage;
- a write transaction is `BEGIN` + a transaction-scoped advisory lock of the ledger,
  so writers take turns exactly as under SQLite's `BEGIN IMMEDIATE`: every
  compare-and-set reads and writes inside one transaction that no other writer
  interleaves with, on any counter. Reads never wait for it;
- a report reads one REPEATABLE READ snapshot;
- the schema version lives in `ledger_meta` (SQLite: PRAGMA user_version), and a
  migration runs under the same lock, so two counters starting at once migrate once;
- a server that cannot be reached is LedgerUnreachable (the counter refuses new
  payments and says so), a refusal of our login LedgerDenied.

A ledger lives in one schema of one database: the URL's `options=-csearch_path=...`
picks another schema than `public` (the tests give each test a fresh one).
"""

from __future__ import annotations

import functools
import logging
import re
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Iterator
from urllib.parse import urlsplit, urlunsplit

from .errors import LedgerBusy, LedgerDenied, LedgerError, LedgerUnreachable

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
LOCK_TIMEOUT_MS = 10_000  # like SQLite's busy timeout: a writer waits this long for its turn
# The advisory lock key of a ledger: one per schema (several ledgers may share a database).
_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('cashier-ledger:' || current_schema()))"

_INDEXED_BY = re.compile(r"\s+INDEXED BY \w+", re.I)


@functools.lru_cache(maxsize=512)
def translate_sql(sql: str) -> str:
    """SQLite's SQL (as the ledger writes it) in PostgreSQL's dialect."""
    sql = _INDEXED_BY.sub("", sql)
    if any("?" in literal for literal in sql.split("'")[1::2]):
        raise ValueError("a '?' inside a string literal cannot be translated")  # the ledger writes none
    return sql.replace("%", "%%").replace("?", "%s")


def is_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def display(url: str) -> str:
    """The URL without any password (for messages and logs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, "", ""))


def _numeric_as_int():
    """sum() of BIGINT fen is NUMERIC in PostgreSQL; the ledger only ever sums
    integers, so load NUMERIC as int (a fraction would be a bug: kept as Decimal)."""
    from psycopg.types.numeric import NumericLoader

    class IntegralNumeric(NumericLoader):
        def load(self, data):  # type: ignore[override]
            value = super().load(data)
            return int(value) if isinstance(value, Decimal) and value == value.to_integral_value() else value

    return IntegralNumeric


class Cursor:
    """What the ledger reads from an execute(): fetchone/fetchall/rowcount/iteration."""

    __slots__ = ("_cur",)

    def __init__(self, cur) -> None:
        self._cur = cur

    def fetchone(self):
        return self._cur.fetchone() if self._cur.description is not None else None

    def fetchall(self):
        return self._cur.fetchall() if self._cur.description is not None else []

    def __iter__(self):
        return iter(self.fetchall())

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


class Connection:
    """A psycopg connection that takes the ledger's SQLite-dialect SQL."""

    def __init__(self, raw) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Any = ()) -> Cursor:
        if params:
            return Cursor(self.raw.execute(translate_sql(sql), tuple(params)))
        return Cursor(self.raw.execute(_INDEXED_BY.sub("", sql)))

    def executemany(self, sql: str, rows) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(translate_sql(sql), rows)

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE


def translate_error(exc: BaseException, where: str) -> LedgerError | None:
    """psycopg's errors as the ledger errors a clerk can act on (None: not ours to name)."""
    import psycopg
    from psycopg import errors as pg

    if isinstance(exc, (pg.InvalidPassword, pg.InvalidAuthorizationSpecification, pg.InvalidCatalogName,
                        pg.InsufficientPrivilege)):
        return LedgerDenied(where=where, reason=_first_line(exc))
    if isinstance(exc, (pg.LockNotAvailable, pg.QueryCanceled, pg.DeadlockDetected, pg.SerializationFailure)):
        return LedgerBusy(path=where)
    if isinstance(exc, psycopg.OperationalError):
        text = str(exc).lower()
        if "password" in text or "authentication" in text or "does not exist" in text:
            return LedgerDenied(where=where, reason=_first_line(exc))
        return LedgerUnreachable(where=where)
    if isinstance(exc, psycopg.InterfaceError):  # the connection is gone
        return LedgerUnreachable(where=where)
    try:
        from psycopg_pool import PoolTimeout, TooManyRequests
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, (PoolTimeout, TooManyRequests)):
        return LedgerUnreachable(where=where)
    return None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def database_errors() -> tuple[type[BaseException], ...]:
    import psycopg

    try:
        from psycopg_pool import PoolTimeout

        return (psycopg.Error, PoolTimeout)
    except ImportError:  # pragma: no cover
        return (psycopg.Error,)


def integrity_errors() -> tuple[type[BaseException], ...]:
    import psycopg

    return (psycopg.IntegrityError,)


class Database:
    """The pool of connections to one shared ledger."""

    def __init__(self, url: str, *, application_name: str = "cashier",
                 connect_timeout: float = CONNECT_TIMEOUT_S, lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> None:
        from psycopg_pool import ConnectionPool

        from cashier import secrets

        self.url = url
        self.where = display(url)
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": max(1, int(connect_timeout)),
            "application_name": application_name[:60],
        }
        password = secrets.get_database_password(url)
        if password:
            kwargs["password"] = password
        self._lock_timeout_ms = int(lock_timeout_ms)
        self._pool = ConnectionPool(
            url, min_size=1, max_size=2, kwargs=kwargs, open=False, configure=self._configure,
            check=ConnectionPool.check_connection, timeout=connect_timeout, name="cashier-ledger",
            reconnect_timeout=60.0,
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except BaseException as exc:
            self._pool.close(timeout=0)
            cause = getattr(exc, "__cause__", None) or exc
            raise (translate_error(cause, self.where) or LedgerUnreachable(where=self.where)) from exc

    def _configure(self, raw) -> None:
        raw.adapters.register_loader("numeric", _numeric_as_int())
        raw.execute(f"SET lock_timeout = {self._lock_timeout_ms}")
        raw.execute("SET TIME ZONE 'UTC'")

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        with self._pool.connection() as raw:
            yield Connection(raw)

    def close(self) -> None:
        self._pool.close(timeout=5)

    # -------------------------------------------------------------- transactions

    @staticmethod
    def begin_write(conn: Connection) -> None:
        conn.execute("BEGIN")
        conn.execute(_LOCK_SQL)

    @staticmethod
    def begin_snapshot(conn: Connection) -> None:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    # ------------------------------------------------------------------- schema

    @staticmethod
    def user_version(conn: Connection) -> int:
        exists = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema()"
            " AND table_name = 'ledger_meta'").fetchone()
        if exists is None:
            return 0
        row = conn.execute("SELECT value FROM ledger_meta WHERE name = 'schema_version'").fetchone()
        return 0 if row is None else int(row[0])

    @staticmethod
    def set_user_version(conn: Connection, version: int) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS ledger_meta (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)")
        conn.execute(
            "INSERT INTO ledger_meta (name, value) VALUES ('schema_version', ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value", (str(int(version)),))

    def settings(self, conn: Connection) -> dict[str, Any]:
        names = ("server_version", "TimeZone", "lock_timeout", "default_transaction_isolation", "search_path")
        found = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in names}
        found["user_version"] = self.user_version(conn)
        found["current_schema"] = conn.execute("SELECT current_schema()").fetchone()[0]
        return found
