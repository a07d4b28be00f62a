"""Where this counter's books are: the `ledger_url` setting (or CASHIER_LEDGER_URL) as
what Ledger() opens.

""                                    this computer's SQLite file (the default)
sqlite:///path/to/ledger.sqlite3      another SQLite file
postgresql://user@host[:port]/db      a shared ledger on a PostgreSQL server
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from . import postgres


def resolve_url(url: str) -> "str | Path":
    """What Ledger() takes for `url`: a Path for SQLite, the URL for PostgreSQL."""
    if not url:
        from cashier.paths import database_path

        return database_path()
    if postgres.is_url(url):
        return url
    if url.startswith("sqlite:"):
        return Path(unquote(urlsplit(url).path))
    return Path(url)  # a plain file name (cashier-cli ledger migrate --from FILE)


def describe(target: "str | Path") -> tuple[str, str]:
    """(where, backend) for messages: never a password."""
    if postgres.is_url(target):
        return postgres.display(str(target)), "postgresql"
    return str(target), "sqlite"


def is_shared(target: "str | Path") -> bool:
    return postgres.is_url(target)
