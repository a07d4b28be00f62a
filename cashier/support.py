"""The support bundle (`cashier-cli support-bundle`): one zip a shop can send to whoever
helps it, holding what is needed to understand a problem and nothing that opens money.

Inside:
  * `logs/`: the log files (already free of keys; every known key is hidden again here);
  * `settings.json`: the settings without the manager PIN's hash;
  * `profiles.json`: each profile's gateway, URLs and merchant number, and whether the
    keyring holds its key (never the key);
  * `facts.json`: versions and platform; the ledger's size, schema version, orders and
    refunds per state, and the result of a full integrity check (PRAGMA quick_check).
It never holds a key, the PIN (or its hash) or a payment code, and it reads the ledger
read-only: a damaged, empty or unreadable ledger is described, not changed.
"""

from __future__ import annotations

import json
import sqlite3
import time
import zipfile
from pathlib import Path
from typing import Any

from cashier import logs, paths, redaction
from cashier.i18n import UserError
from cashier.ledger.db import quick_check

_SECRET_WORDS = ("key", "secret", "token", "password", "pin", "sign")


def default_name() -> str:
    return time.strftime("cashier-support-%Y%m%d-%H%M%S.zip")


def make_bundle(out: Path) -> dict[str, Any]:
    """Write the bundle to `out`; returns what it holds (names and the ledger facts)."""
    _load_keys()  # so that redaction knows every key, even one no log line has met yet
    members: dict[str, bytes] = {}
    for path in _log_files():
        try:
            text = path.read_text("utf-8", errors="replace")
        except OSError as exc:
            text = f"(unreadable: {exc.strerror or type(exc).__name__})"
        members[f"logs/{path.name}"] = redaction.redact(text).encode("utf-8")
    members["settings.json"] = _json(_settings())
    members["profiles.json"] = _json(_profiles())
    facts = {"environment": logs.environment_summary(), "ledger": _configured_ledger_facts()}
    members["facts.json"] = _json(facts)
    with paths.storing(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".part")
        try:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for name, data in members.items():
                    zf.writestr(name, redaction.redact(data.decode("utf-8")).encode("utf-8"))
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
    return {"path": str(out), "files": sorted(members), "ledger": facts["ledger"]}


def ledger_facts(path: Path | None) -> dict[str, Any]:
    """What the ledger file is like, read-only; every failure is a fact, not an error."""
    facts: dict[str, Any] = {"path": str(path) if path else None}
    if path is None:
        return facts
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        facts["exists"] = False
        return facts
    except OSError as exc:
        facts["error"] = exc.strerror or type(exc).__name__
        return facts
    facts.update(exists=True, bytes=size)
    for suffix in ("-wal", "-shm", ".lock"):
        side = Path(str(path) + suffix)
        if side.exists():
            facts[f"bytes{suffix}"] = side.stat().st_size
    if size == 0:
        facts["integrity"] = "empty file (0 bytes): damaged"
        return facts
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error as exc:
        facts["error"] = str(exc)
        return facts
    try:
        facts["sqlite"] = sqlite3.sqlite_version
        facts["schema_version"] = conn.execute("PRAGMA user_version").fetchone()[0]
        facts["journal_mode"] = conn.execute("PRAGMA journal_mode").fetchone()[0]
        facts["integrity"] = quick_check(path)
        for table in ("orders", "refunds"):
            try:
                facts[f"{table}_by_state"] = dict(
                    conn.execute(f"SELECT state, count(*) FROM {table} GROUP BY state ORDER BY state").fetchall())
            except sqlite3.Error as exc:
                facts[f"{table}_by_state"] = f"unreadable: {exc}"
        try:
            facts["events"] = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        except sqlite3.Error as exc:
            facts["events"] = f"unreadable: {exc}"
    except sqlite3.Error as exc:
        facts.setdefault("integrity", f"unreadable: {exc}")
        facts["error"] = str(exc)
    finally:
        conn.close()
    return facts


def _configured_ledger_facts() -> dict[str, Any]:
    """The facts of the ledger this counter uses: its SQLite file, or the shared one."""
    try:
        from cashier.ledger.location import is_shared, resolve_url
        from cashier.settings import ledger_url

        target = resolve_url(ledger_url())
    except Exception as exc:  # e.g. CASHIER_LEDGER_URL holds a password: say so, not what
        return {"error": logs.one_line(exc.message() if isinstance(exc, UserError) else str(exc))}
    if is_shared(target):
        return shared_ledger_facts(str(target))
    return ledger_facts(Path(target))


def shared_ledger_facts(url: str) -> dict[str, Any]:
    """A shared ledger, read-only: where (never a password), the server, the schema
    version, the counters alive. Unreachable is a fact too."""
    from cashier import secrets
    from cashier.ledger import postgres

    facts: dict[str, Any] = {"backend": "postgresql", "where": postgres.display(url)}
    try:
        import psycopg

        password = secrets.get_database_password(url)
        with psycopg.connect(url, connect_timeout=3, autocommit=True,
                             **({"password": password} if password else {})) as raw:
            conn = postgres.Connection(raw)
            facts["server"] = conn.execute("SHOW server_version").fetchone()[0]
            facts["schema_version"] = postgres.Database.user_version(conn)
            if facts["schema_version"]:
                facts["orders"] = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
            if facts["schema_version"] >= 7:
                facts["counters"] = [{"counter_id": c, "lease_until": t} for c, t in conn.execute(
                    "SELECT counter_id, lease_until FROM counters ORDER BY counter_id").fetchall()]
    except Exception as exc:
        facts["error"] = logs.one_line(str(exc))[:300]
    return facts


def _ledger_path() -> Path | None:
    try:
        return paths.database_path()
    except Exception:  # the data folder cannot even be made: nothing to describe
        return None


def _log_files() -> list[Path]:
    try:
        folder = paths.log_dir()
    except Exception:
        return []
    return sorted(p for p in folder.glob("*.log*") if p.is_file())


def _settings() -> dict[str, Any]:
    try:
        raw = json.loads(paths.settings_path().read_text("utf-8"))
    except FileNotFoundError:
        return {"file": "none (defaults)"}
    except Exception as exc:
        return {"file": f"unreadable: {type(exc).__name__}"}
    return _without_secrets(raw) if isinstance(raw, dict) else {"file": "not an object"}


def _profiles() -> dict[str, Any]:
    from cashier import secrets
    from cashier.profiles import ProfileStore

    try:
        store = ProfileStore()
        profiles = store.list()
        active = store.active()
    except Exception as exc:
        return {"file": f"unreadable: {exc}"}
    rows = []
    for profile in profiles:
        row = _without_secrets(profile.to_dict())
        try:
            row["has_key"] = secrets.has_secret(profile.name)
        except Exception as exc:
            row["has_key"] = f"unknown: {type(exc).__name__}"
        rows.append(row)
    return {"active": active.name if active else None, "profiles": rows}


def _load_keys() -> None:
    from cashier import secrets
    from cashier.profiles import ProfileStore

    try:
        names = [p.name for p in ProfileStore().list()]
    except Exception:
        return
    for name in names:
        try:
            secrets.get_secret(name)  # registers it with redaction
        except Exception:
            pass


def _without_secrets(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: ("***" if any(w in str(k).lower() for w in _SECRET_WORDS) and v else _without_secrets(v))
                for k, v in data.items()}
    if isinstance(data, list):
        return [_without_secrets(v) for v in data]
    return data


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")
