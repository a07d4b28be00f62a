"""The ledger's schema as a list of migrations, versioned with PRAGMA user_version.

Rules for whoever adds a version:
- Never edit a migration that has shipped; append a new one.
- A migration runs inside the opening transaction (BEGIN IMMEDIATE), so it must not
  change journal_mode or run VACUUM. If it fails, the file stays at its old version.
- The partial indexes below repeat the final-state lists literally: a migration is a
  snapshot in time. If states.FINAL_* ever change, add a migration that recreates the
  partial indexes, and keep `db._ORDER_UNRESOLVED_SQL` identical to their WHERE clause
  (tests check that the queries use these indexes).
"""

from __future__ import annotations

import re
import sqlite3
from typing import Callable

Migration = Callable[[sqlite3.Connection], None]


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run each statement of `script` in the current transaction.

    (sqlite3's executescript() would COMMIT first, breaking the migration's atomicity.)
    """
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            conn.execute(buffer)
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:60]}")


def _v1_tables(conn: sqlite3.Connection) -> None:
    """Orders (one row per payment attempt), refunds, the append-only event log and
    named counters."""
    run_script(
        conn,
        """
        CREATE TABLE orders (
            out_trade_no      TEXT PRIMARY KEY NOT NULL,
            sale_id           TEXT NOT NULL,
            counter_id        TEXT NOT NULL,
            profile           TEXT NOT NULL,
            gateway           TEXT NOT NULL,
            method            TEXT NOT NULL,
            wallet            TEXT NOT NULL,
            amount_fen        INTEGER NOT NULL CHECK (amount_fen > 0),
            amount_to_pay_fen INTEGER NOT NULL CHECK (amount_to_pay_fen > 0),
            paid_amount_fen   INTEGER CHECK (paid_amount_fen IS NULL OR paid_amount_fen >= 0),
            state             TEXT NOT NULL,
            subject           TEXT NOT NULL DEFAULT '',
            auth_code_last4   TEXT CHECK (auth_code_last4 IS NULL OR
                                  (length(auth_code_last4) = 4 AND auth_code_last4 NOT GLOB '*[^0-9]*')),
            qr                TEXT,
            qr_image_url      TEXT,
            gateway_trade_no  TEXT,
            reason            TEXT,
            created_at        REAL NOT NULL,
            updated_at        REAL NOT NULL,
            sent_at           REAL,
            expires_at        REAL,
            paid_at           REAL,
            watch_until       REAL,
            next_check_at     REAL,
            check_count       INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX orders_sale ON orders (sale_id);

        CREATE TABLE refunds (
            out_refund_no     TEXT PRIMARY KEY NOT NULL,
            out_trade_no      TEXT NOT NULL REFERENCES orders (out_trade_no),
            amount_fen        INTEGER NOT NULL CHECK (amount_fen > 0),
            state             TEXT NOT NULL,
            reason            TEXT NOT NULL DEFAULT '',
            actor             TEXT NOT NULL,
            gateway_refund_no TEXT,
            failure_reason    TEXT,
            created_at        REAL NOT NULL,
            updated_at        REAL NOT NULL,
            sent_at           REAL,
            finished_at       REAL,
            next_check_at     REAL,
            check_count       INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX refunds_order ON refunds (out_trade_no);

        CREATE TABLE events (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            at          REAL NOT NULL,
            entity      TEXT NOT NULL,
            entity_id   TEXT NOT NULL,
            action      TEXT NOT NULL,
            actor       TEXT NOT NULL,
            old_state   TEXT,
            new_state   TEXT,
            detail      TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_entity ON events (entity_id, id);
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN
            SELECT RAISE(ABORT, 'ledger events are append-only');
        END;
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN
            SELECT RAISE(ABORT, 'ledger events are append-only');
        END;

        CREATE TABLE sequences (
            name  TEXT PRIMARY KEY NOT NULL,
            value INTEGER NOT NULL
        );
        """
    )


def _v2_audit_and_indexes(conn: sqlite3.Connection) -> None:
    """Who cleared a needs_check order; what an update changed; and the indexes that
    keep recovery, history, lookup and the day's report fast on a million orders."""
    run_script(
        conn,
        """
        ALTER TABLE orders ADD COLUMN checked_by TEXT;
        ALTER TABLE events ADD COLUMN changes TEXT NOT NULL DEFAULT '{}';

        CREATE INDEX orders_unresolved ON orders (next_check_at)
            WHERE state NOT IN ('paid', 'closed', 'reversed', 'failed');
        CREATE INDEX orders_history ON orders (created_at, out_trade_no);
        CREATE INDEX orders_gateway_trade_no ON orders (gateway_trade_no)
            WHERE gateway_trade_no IS NOT NULL;
        CREATE INDEX orders_paid_at ON orders (paid_at, gateway, wallet, state, paid_amount_fen)
            WHERE paid_at IS NOT NULL;

        CREATE INDEX refunds_unresolved ON refunds (next_check_at)
            WHERE state NOT IN ('succeeded', 'failed');
        CREATE INDEX refunds_finished ON refunds (finished_at, out_trade_no, amount_fen)
            WHERE state = 'succeeded';
        CREATE INDEX refunds_gateway_refund_no ON refunds (gateway_refund_no)
            WHERE gateway_refund_no IS NOT NULL;
        """
    )


def _v3_search_indexes(conn: sqlite3.Connection) -> None:
    """History search on a million orders: by amount (the sale's, or the one the
    customer paid when a discount made it differ), by wallet and by state, each newest
    first in index order (keyset pages, no sort). See Ledger.search_orders."""
    run_script(
        conn,
        """
        CREATE INDEX orders_amount ON orders (amount_fen, created_at, out_trade_no);
        CREATE INDEX orders_paid_amount
            ON orders (coalesce(paid_amount_fen, amount_to_pay_fen), created_at, out_trade_no)
            WHERE coalesce(paid_amount_fen, amount_to_pay_fen) <> amount_fen;
        CREATE INDEX orders_wallet ON orders (wallet, created_at, out_trade_no);
        CREATE INDEX orders_state ON orders (state, created_at, out_trade_no);
        """
    )


def _v4_refunded_sum(conn: sqlite3.Connection) -> None:
    """orders.refunded_fen: what succeeded refunds gave back on the order, kept by
    triggers on refunds (so no writer can forget it), with an index of the refunded
    orders newest first: the history's refund states page without a sort."""
    run_script(
        conn,
        """
        ALTER TABLE orders ADD COLUMN refunded_fen INTEGER NOT NULL DEFAULT 0;
        UPDATE orders SET refunded_fen = (
            SELECT coalesce(sum(r.amount_fen), 0) FROM refunds AS r
            WHERE r.out_trade_no = orders.out_trade_no AND r.state = 'succeeded')
        WHERE out_trade_no IN (SELECT out_trade_no FROM refunds WHERE state = 'succeeded');
        CREATE INDEX orders_refunded ON orders (created_at, out_trade_no) WHERE refunded_fen > 0;

        CREATE TRIGGER refunds_sum_insert AFTER INSERT ON refunds WHEN NEW.state = 'succeeded'
        BEGIN
            UPDATE orders SET refunded_fen = (
                SELECT coalesce(sum(amount_fen), 0) FROM refunds
                WHERE out_trade_no = NEW.out_trade_no AND state = 'succeeded')
            WHERE out_trade_no = NEW.out_trade_no;
        END;
        CREATE TRIGGER refunds_sum_update AFTER UPDATE OF state, amount_fen, out_trade_no ON refunds
            WHEN OLD.state = 'succeeded' OR NEW.state = 'succeeded'
        BEGIN
            UPDATE orders SET refunded_fen = (
                SELECT coalesce(sum(amount_fen), 0) FROM refunds
                WHERE out_trade_no = orders.out_trade_no AND state = 'succeeded')
            WHERE out_trade_no IN (OLD.out_trade_no, NEW.out_trade_no);
        END;
        CREATE TRIGGER refunds_sum_delete AFTER DELETE ON refunds WHEN OLD.state = 'succeeded'
        BEGIN
            UPDATE orders SET refunded_fen = (
                SELECT coalesce(sum(amount_fen), 0) FROM refunds
                WHERE out_trade_no = OLD.out_trade_no AND state = 'succeeded')
            WHERE out_trade_no = OLD.out_trade_no;
        END;
        """
    )


def _v5_machine_owners_slots(conn: sqlite3.Connection) -> None:
    """Reasons as message codes with parameters; the owner and lease of a row whose
    request may be on the wire (several processes share the books); rate-limit slots
    shared by every process. Plain SQL that PostgreSQL takes as well."""
    run_script(
        conn,
        """
        ALTER TABLE orders ADD COLUMN reason_code TEXT;
        ALTER TABLE orders ADD COLUMN reason_params TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE orders ADD COLUMN owner TEXT;
        ALTER TABLE orders ADD COLUMN lease_until REAL;

        ALTER TABLE refunds ADD COLUMN failure_code TEXT;
        ALTER TABLE refunds ADD COLUMN failure_params TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE refunds ADD COLUMN owner TEXT;
        ALTER TABLE refunds ADD COLUMN lease_until REAL;

        CREATE TABLE rate_slots (
            name     TEXT PRIMARY KEY NOT NULL,
            next_at  REAL NOT NULL
        );
        """
    )


def _v6_shifts_cash_reconciliation(conn: sqlite3.Connection) -> None:
    """Shifts (交班), cash in the drawer (现金: sales, cash refunds, 备用金/取款,
    corrections of a closed shift) and reconciliation runs (对账) with their
    differences. Orders and refunds record the clerk and the shift they were taken in.
    Amounts are integer fen; a cash entry is signed (+ into the drawer, − out of it).
    Ids are given by the ledger (sequences), not by AUTOINCREMENT, so the same SQL
    fits other databases."""
    run_script(
        conn,
        """
        ALTER TABLE orders ADD COLUMN shift_id INTEGER;
        ALTER TABLE orders ADD COLUMN clerk TEXT;
        ALTER TABLE refunds ADD COLUMN shift_id INTEGER;
        ALTER TABLE refunds ADD COLUMN clerk TEXT;
        CREATE INDEX orders_shift ON orders (shift_id, state, method, gateway, wallet, paid_amount_fen)
            WHERE shift_id IS NOT NULL;
        CREATE INDEX refunds_shift ON refunds (shift_id, state, out_trade_no, amount_fen)
            WHERE shift_id IS NOT NULL;
        CREATE INDEX orders_profile_day ON orders (profile, created_at, out_trade_no);
        CREATE INDEX refunds_created ON refunds (created_at, out_refund_no);

        CREATE TABLE shifts (
            shift_id          INTEGER PRIMARY KEY NOT NULL,
            counter_id        TEXT NOT NULL,
            clerk             TEXT NOT NULL CHECK (length(clerk) > 0),
            state             TEXT NOT NULL CHECK (state IN ('open', 'closed')),
            float_fen         INTEGER NOT NULL CHECK (float_fen >= 0),
            opened_at         REAL NOT NULL,
            closed_at         REAL,
            closed_by         TEXT,
            expected_cash_fen INTEGER,
            counted_cash_fen  INTEGER CHECK (counted_cash_fen IS NULL OR counted_cash_fen >= 0),
            summary           TEXT NOT NULL DEFAULT '{}',
            note              TEXT NOT NULL DEFAULT '',
            CHECK (state = 'open' OR (closed_at IS NOT NULL AND expected_cash_fen IS NOT NULL
                                       AND counted_cash_fen IS NOT NULL))
        );
        CREATE UNIQUE INDEX shifts_one_open ON shifts (counter_id) WHERE state = 'open';
        CREATE INDEX shifts_opened ON shifts (opened_at);
        CREATE TRIGGER shifts_closed_read_only BEFORE UPDATE ON shifts WHEN OLD.state = 'closed'
        BEGIN
            SELECT RAISE(ABORT, 'a closed shift is read-only');
        END;
        CREATE TRIGGER shifts_no_delete BEFORE DELETE ON shifts
        BEGIN
            SELECT RAISE(ABORT, 'shifts are never deleted');
        END;

        CREATE TABLE cash_entries (
            entry_no      TEXT PRIMARY KEY NOT NULL,
            shift_id      INTEGER NOT NULL REFERENCES shifts (shift_id),
            kind          TEXT NOT NULL CHECK (kind IN ('sale', 'refund', 'in', 'out', 'correction')),
            amount_fen    INTEGER NOT NULL CHECK (amount_fen <> 0),
            tendered_fen  INTEGER CHECK (tendered_fen IS NULL OR tendered_fen >= 0),
            change_fen    INTEGER CHECK (change_fen IS NULL OR change_fen >= 0),
            refunded_fen  INTEGER NOT NULL DEFAULT 0 CHECK (refunded_fen >= 0),
            ref_no        TEXT,
            reason        TEXT NOT NULL DEFAULT '',
            clerk         TEXT NOT NULL,
            created_at    REAL NOT NULL,
            CHECK (kind NOT IN ('sale', 'in') OR amount_fen > 0),
            CHECK (kind NOT IN ('refund', 'out') OR amount_fen < 0),
            CHECK (kind = 'sale' OR refunded_fen = 0)
        );
        CREATE INDEX cash_entries_shift ON cash_entries (shift_id, kind, amount_fen);
        CREATE INDEX cash_entries_created ON cash_entries (created_at, entry_no);
        CREATE TRIGGER cash_entries_no_delete BEFORE DELETE ON cash_entries
        BEGIN
            SELECT RAISE(ABORT, 'cash entries are never deleted');
        END;

        CREATE TABLE recon_runs (
            run_id         INTEGER PRIMARY KEY NOT NULL,
            profile        TEXT NOT NULL,
            day            TEXT NOT NULL,
            state          TEXT NOT NULL CHECK (state IN ('running', 'done', 'stopped')),
            actor          TEXT NOT NULL,
            started_at     REAL NOT NULL,
            finished_at    REAL,
            orders_planned INTEGER NOT NULL DEFAULT 0 CHECK (orders_planned >= 0),
            orders_checked INTEGER NOT NULL DEFAULT 0 CHECK (orders_checked >= 0),
            listed         INTEGER NOT NULL DEFAULT 0 CHECK (listed >= 0)
        );
        CREATE INDEX recon_runs_day ON recon_runs (day, profile, run_id);

        CREATE TABLE recon_differences (
            run_id        INTEGER NOT NULL REFERENCES recon_runs (run_id),
            out_trade_no  TEXT NOT NULL,
            kind          TEXT NOT NULL CHECK (kind IN ('paid_there_not_here', 'paid_here_not_there',
                                                        'amount_differs', 'refund_differs', 'unknown_to_us')),
            ours          TEXT NOT NULL DEFAULT '{}',
            gateway       TEXT NOT NULL DEFAULT '{}',
            resolution    TEXT CHECK (resolution IS NULL OR resolution IN ('record', 'refund', 'checked')),
            resolved_by   TEXT,
            resolved_at   REAL,
            note          TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (run_id, out_trade_no)
        );
        CREATE INDEX recon_differences_open ON recon_differences (out_trade_no) WHERE resolution IS NULL;
        """
    )


def _v7_counters(conn: sqlite3.Connection) -> None:
    """Several counters on one set of books: each counter renews a lease on its row
    while it runs; its open orders and refunds are its own to follow, and another
    counter takes them over only once that lease has run out. A refund records the
    counter that made it (earlier refunds: the counter in their number, R<id><time><seq>)."""
    run_script(
        conn,
        """
        CREATE TABLE counters (
            counter_id   TEXT PRIMARY KEY NOT NULL,
            owner        TEXT NOT NULL,
            lease_until  REAL NOT NULL,
            started_at   REAL NOT NULL
        );
        ALTER TABLE refunds ADD COLUMN counter_id TEXT;
        UPDATE refunds SET counter_id = substr(out_refund_no, 2, length(out_refund_no) - 21)
            WHERE out_refund_no LIKE 'R%' AND length(out_refund_no) BETWEEN 22 AND 25;
        CREATE INDEX orders_counter ON orders (counter_id, created_at, out_trade_no);
        """
    )


MIGRATIONS: list[Migration] = [
    _v1_tables,
    _v2_audit_and_indexes,
    _v3_search_indexes,
    _v4_refunded_sum,
    _v5_machine_owners_slots,
    _v6_shifts_cash_reconciliation,
    _v7_counters,
]

SCHEMA_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def apply(conn: sqlite3.Connection, start: int, stop: int = SCHEMA_VERSION) -> None:
    """Run migrations start+1..stop on `conn`, which must be inside a transaction,
    then record the version. (Exposed for tests that build an old file.)"""
    for index in range(start, stop):
        MIGRATIONS[index](conn)
    conn.execute(f"PRAGMA user_version = {int(stop)}")


# ------------------------------------------------------------------ PostgreSQL
#
# The same versions on a shared PostgreSQL ledger (cashier.ledger.postgres). A
# migration whose SQL PostgreSQL takes as it is (ALTER TABLE ... ADD COLUMN, CREATE
# INDEX ... WHERE, CREATE TABLE with TEXT/INTEGER/REAL columns) runs unchanged through
# the dialect layer; one that needs PostgreSQL's own words has its text here, under
# the same version number. Money is BIGINT fen with the same CHECKs, times are
# DOUBLE PRECISION Unix seconds (SQLite's REAL), text sorts bytewise (COLLATE "C",
# like SQLite) so that keyset pages and number order agree on both.

_PG_V1 = """
CREATE TABLE orders (
    out_trade_no      TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    sale_id           TEXT COLLATE "C" NOT NULL,
    counter_id        TEXT COLLATE "C" NOT NULL,
    profile           TEXT COLLATE "C" NOT NULL,
    gateway           TEXT COLLATE "C" NOT NULL,
    method            TEXT COLLATE "C" NOT NULL,
    wallet            TEXT COLLATE "C" NOT NULL,
    amount_fen        BIGINT NOT NULL CHECK (amount_fen > 0),
    amount_to_pay_fen BIGINT NOT NULL CHECK (amount_to_pay_fen > 0),
    paid_amount_fen   BIGINT CHECK (paid_amount_fen IS NULL OR paid_amount_fen >= 0),
    state             TEXT COLLATE "C" NOT NULL,
    subject           TEXT NOT NULL DEFAULT '',
    auth_code_last4   TEXT CHECK (auth_code_last4 IS NULL OR auth_code_last4 ~ '^[0-9]{4}$'),
    qr                TEXT,
    qr_image_url      TEXT,
    gateway_trade_no  TEXT COLLATE "C",
    reason            TEXT,
    created_at        DOUBLE PRECISION NOT NULL,
    updated_at        DOUBLE PRECISION NOT NULL,
    sent_at           DOUBLE PRECISION,
    expires_at        DOUBLE PRECISION,
    paid_at           DOUBLE PRECISION,
    watch_until       DOUBLE PRECISION,
    next_check_at     DOUBLE PRECISION,
    check_count       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX orders_sale ON orders (sale_id);

CREATE TABLE refunds (
    out_refund_no     TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    out_trade_no      TEXT COLLATE "C" NOT NULL REFERENCES orders (out_trade_no),
    amount_fen        BIGINT NOT NULL CHECK (amount_fen > 0),
    state             TEXT COLLATE "C" NOT NULL,
    reason            TEXT NOT NULL DEFAULT '',
    actor             TEXT NOT NULL,
    gateway_refund_no TEXT COLLATE "C",
    failure_reason    TEXT,
    created_at        DOUBLE PRECISION NOT NULL,
    updated_at        DOUBLE PRECISION NOT NULL,
    sent_at           DOUBLE PRECISION,
    finished_at       DOUBLE PRECISION,
    next_check_at     DOUBLE PRECISION,
    check_count       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX refunds_order ON refunds (out_trade_no);

CREATE TABLE events (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at          DOUBLE PRECISION NOT NULL,
    entity      TEXT COLLATE "C" NOT NULL,
    entity_id   TEXT COLLATE "C" NOT NULL,
    action      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    old_state   TEXT,
    new_state   TEXT,
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_entity ON events (entity_id, id);
CREATE FUNCTION ledger_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger events are append-only' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION ledger_events_append_only();
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION ledger_events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_events_append_only();

CREATE TABLE sequences (
    name  TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
"""

_PG_V4 = """
ALTER TABLE orders ADD COLUMN refunded_fen BIGINT NOT NULL DEFAULT 0;
UPDATE orders SET refunded_fen = (
    SELECT coalesce(sum(r.amount_fen), 0) FROM refunds AS r
    WHERE r.out_trade_no = orders.out_trade_no AND r.state = 'succeeded')
WHERE out_trade_no IN (SELECT out_trade_no FROM refunds WHERE state = 'succeeded');
CREATE INDEX orders_refunded ON orders (created_at, out_trade_no) WHERE refunded_fen > 0;

CREATE FUNCTION ledger_refunded_sum() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.state = 'succeeded' THEN
        UPDATE orders SET refunded_fen = (
            SELECT coalesce(sum(amount_fen), 0) FROM refunds
            WHERE out_trade_no = OLD.out_trade_no AND state = 'succeeded')
        WHERE out_trade_no = OLD.out_trade_no;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.state = 'succeeded' THEN
        UPDATE orders SET refunded_fen = (
            SELECT coalesce(sum(amount_fen), 0) FROM refunds
            WHERE out_trade_no = NEW.out_trade_no AND state = 'succeeded')
        WHERE out_trade_no = NEW.out_trade_no;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER refunds_sum_insert AFTER INSERT ON refunds
    FOR EACH ROW WHEN (NEW.state = 'succeeded') EXECUTE FUNCTION ledger_refunded_sum();
CREATE TRIGGER refunds_sum_update AFTER UPDATE OF state, amount_fen, out_trade_no ON refunds
    FOR EACH ROW WHEN (OLD.state = 'succeeded' OR NEW.state = 'succeeded') EXECUTE FUNCTION ledger_refunded_sum();
CREATE TRIGGER refunds_sum_delete AFTER DELETE ON refunds
    FOR EACH ROW WHEN (OLD.state = 'succeeded') EXECUTE FUNCTION ledger_refunded_sum();
"""

# v6 with PostgreSQL's triggers (a closed shift is read-only; shifts and cash
# entries are never deleted).
_PG_V6 = """
ALTER TABLE orders ADD COLUMN shift_id BIGINT;
ALTER TABLE orders ADD COLUMN clerk TEXT;
ALTER TABLE refunds ADD COLUMN shift_id BIGINT;
ALTER TABLE refunds ADD COLUMN clerk TEXT;
CREATE INDEX orders_shift ON orders (shift_id, state, method, gateway, wallet, paid_amount_fen)
    WHERE shift_id IS NOT NULL;
CREATE INDEX refunds_shift ON refunds (shift_id, state, out_trade_no, amount_fen)
    WHERE shift_id IS NOT NULL;
CREATE INDEX orders_profile_day ON orders (profile, created_at, out_trade_no);
CREATE INDEX refunds_created ON refunds (created_at, out_refund_no);

CREATE TABLE shifts (
    shift_id          BIGINT PRIMARY KEY NOT NULL,
    counter_id        TEXT NOT NULL,
    clerk             TEXT NOT NULL CHECK (length(clerk) > 0),
    state             TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    float_fen         BIGINT NOT NULL CHECK (float_fen >= 0),
    opened_at         DOUBLE PRECISION NOT NULL,
    closed_at         DOUBLE PRECISION,
    closed_by         TEXT,
    expected_cash_fen BIGINT,
    counted_cash_fen  BIGINT CHECK (counted_cash_fen IS NULL OR counted_cash_fen >= 0),
    summary           TEXT NOT NULL DEFAULT '{}',
    note              TEXT NOT NULL DEFAULT '',
    CHECK (state = 'open' OR (closed_at IS NOT NULL AND expected_cash_fen IS NOT NULL
                               AND counted_cash_fen IS NOT NULL))
);
CREATE UNIQUE INDEX shifts_one_open ON shifts (counter_id) WHERE state = 'open';
CREATE INDEX shifts_opened ON shifts (opened_at);
CREATE FUNCTION ledger_shifts_closed_read_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a closed shift is read-only' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER shifts_closed_read_only BEFORE UPDATE ON shifts
    FOR EACH ROW WHEN (OLD.state = 'closed') EXECUTE FUNCTION ledger_shifts_closed_read_only();
CREATE FUNCTION ledger_shifts_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'shifts are never deleted' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER shifts_no_delete BEFORE DELETE ON shifts
    FOR EACH ROW EXECUTE FUNCTION ledger_shifts_no_delete();

CREATE TABLE cash_entries (
    entry_no      TEXT PRIMARY KEY NOT NULL,
    shift_id      BIGINT NOT NULL REFERENCES shifts (shift_id),
    kind          TEXT NOT NULL CHECK (kind IN ('sale', 'refund', 'in', 'out', 'correction')),
    amount_fen    BIGINT NOT NULL CHECK (amount_fen <> 0),
    tendered_fen  BIGINT CHECK (tendered_fen IS NULL OR tendered_fen >= 0),
    change_fen    BIGINT CHECK (change_fen IS NULL OR change_fen >= 0),
    refunded_fen  BIGINT NOT NULL DEFAULT 0 CHECK (refunded_fen >= 0),
    ref_no        TEXT,
    reason        TEXT NOT NULL DEFAULT '',
    clerk         TEXT NOT NULL,
    created_at    DOUBLE PRECISION NOT NULL,
    CHECK (kind NOT IN ('sale', 'in') OR amount_fen > 0),
    CHECK (kind NOT IN ('refund', 'out') OR amount_fen < 0),
    CHECK (kind = 'sale' OR refunded_fen = 0)
);
CREATE INDEX cash_entries_shift ON cash_entries (shift_id, kind, amount_fen);
CREATE INDEX cash_entries_created ON cash_entries (created_at, entry_no);
CREATE FUNCTION ledger_cash_entries_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'cash entries are never deleted' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER cash_entries_no_delete BEFORE DELETE ON cash_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_cash_entries_no_delete();

CREATE TABLE recon_runs (
    run_id         BIGINT PRIMARY KEY NOT NULL,
    profile        TEXT NOT NULL,
    day            TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('running', 'done', 'stopped')),
    actor          TEXT NOT NULL,
    started_at     DOUBLE PRECISION NOT NULL,
    finished_at    DOUBLE PRECISION,
    orders_planned BIGINT NOT NULL DEFAULT 0 CHECK (orders_planned >= 0),
    orders_checked BIGINT NOT NULL DEFAULT 0 CHECK (orders_checked >= 0),
    listed         BIGINT NOT NULL DEFAULT 0 CHECK (listed >= 0)
);
CREATE INDEX recon_runs_day ON recon_runs (day, profile, run_id);

CREATE TABLE recon_differences (
    run_id        BIGINT NOT NULL REFERENCES recon_runs (run_id),
    out_trade_no  TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('paid_there_not_here', 'paid_here_not_there',
                                                'amount_differs', 'refund_differs', 'unknown_to_us')),
    ours          TEXT NOT NULL DEFAULT '{}',
    gateway       TEXT NOT NULL DEFAULT '{}',
    resolution    TEXT CHECK (resolution IS NULL OR resolution IN ('record', 'refund', 'checked')),
    resolved_by   TEXT,
    resolved_at   DOUBLE PRECISION,
    note          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, out_trade_no)
);
CREATE INDEX recon_differences_open ON recon_differences (out_trade_no) WHERE resolution IS NULL;
"""

# version (1-based) -> PostgreSQL text of that migration, run as one script.
POSTGRES_SCRIPTS: dict[int, str] = {1: _PG_V1, 4: _PG_V4, 6: _PG_V6}


_DDL_TYPES = ((re.compile(r"\bREAL\b"), "DOUBLE PRECISION"), (re.compile(r"\bINTEGER\b"), "BIGINT"))


def postgres_ddl(sql: str) -> str:
    """A migration's SQLite DDL with PostgreSQL's column types: SQLite's REAL is 8
    bytes (PostgreSQL's REAL only 4: a Unix time would lose minutes) and its INTEGER
    up to 8 bytes (fen sums)."""
    for pattern, replacement in _DDL_TYPES:
        sql = pattern.sub(replacement, sql)
    return sql


_PG_V6_TRIGGERS = """
CREATE FUNCTION ledger_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER shifts_closed_read_only BEFORE UPDATE ON shifts
    FOR EACH ROW WHEN (OLD.state = 'closed') EXECUTE FUNCTION ledger_refuse('a closed shift is read-only');
CREATE TRIGGER shifts_no_delete BEFORE DELETE ON shifts
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse('shifts are never deleted');
CREATE TRIGGER cash_entries_no_delete BEFORE DELETE ON cash_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse('cash entries are never deleted');
"""

# version -> PostgreSQL's own triggers for a shared migration whose SQLite triggers
# (CREATE TRIGGER ... RAISE(ABORT, ...)) are left out when it runs on PostgreSQL.
POSTGRES_TRIGGERS: dict[int, str] = {6: _PG_V6_TRIGGERS}


class _PostgresDDL:
    """Hands a shared migration's statements to PostgreSQL with its column types,
    leaving out SQLite's triggers (their PostgreSQL text is in POSTGRES_TRIGGERS)."""

    def __init__(self, conn, version: int) -> None:
        self._conn = conn
        self._version = version

    def execute(self, sql: str, params=()):
        if sql.lstrip().upper().startswith("CREATE TRIGGER"):
            if self._version not in POSTGRES_TRIGGERS:
                raise ValueError(f"migration {self._version} has a SQLite trigger and no PostgreSQL text for it")
            return None
        return self._conn.execute(postgres_ddl(sql), params)


def apply_postgres(conn, start: int, stop: int = SCHEMA_VERSION) -> None:
    """Run migrations start+1..stop on a PostgreSQL connection (cashier.ledger.postgres),
    inside the caller's transaction; the caller records the version."""
    for index in range(start, stop):
        version = index + 1
        script = POSTGRES_SCRIPTS.get(version)
        if script is not None:
            conn.execute(script)
            continue
        MIGRATIONS[index](_PostgresDDL(conn, version))
        if version in POSTGRES_TRIGGERS:
            conn.execute(POSTGRES_TRIGGERS[version])
