"""Test setup: no network, no desktop keyring, no display, Chinese by default.

Every test gets its own CASHIER_HOME and its own keyring file, and (through the
`sim` fixture) its own simulator on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["PYTHON_KEYRING_BACKEND"] = "tests.support.keyring_backend.FileKeyring"
os.environ.setdefault("CASHIER_LANG", "zh_CN")
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CASHIER_HOME", str(home))
    monkeypatch.setenv("CASHIER_TEST_KEYRING_FILE", str(tmp_path / "keyring.json"))
    monkeypatch.setenv("CASHIER_LANG", "zh_CN")
    from cashier import i18n

    i18n.set_language("zh_CN")
    yield home


@pytest.fixture
def sim():
    """A fresh simulator on 127.0.0.1 with the demo merchants."""
    from cashier.sim.server import SimServer

    with SimServer() as server:
        yield server


@pytest.fixture
def sim_client(sim):
    from cashier.sim.client import SimClient

    with SimClient(sim.base_url) as client:
        yield client


@pytest.fixture
def demo_profile(sim):
    """demo_profile("ltzf") -> (Profile, secret) pointing at the running simulator."""
    from cashier.sim.demo import demo_profiles

    profiles = {p.gateway: (p, s) for p, s in demo_profiles(sim.base_url)}
    return lambda gateway: profiles[gateway]


@pytest.fixture
def make_gateway(demo_profile):
    """make_gateway("ltzf", **http_kwargs) -> a gateway client for the simulator's demo merchant."""
    from cashier.gateways import build_gateway

    built = []

    def factory(name: str, **kwargs):
        profile, secret = demo_profile(name)
        gateway = build_gateway(profile, secret, **kwargs)
        built.append(gateway)
        return gateway

    yield factory
    for gateway in built:
        gateway.close_transport()


def require_tool(name: str) -> str:
    """The path of a system tool a test drives (espeak-ng, zbarimg, pdftoppm, ...).

    Without it the test is skipped with the reason, except where CASHIER_TEST_REQUIRE_TOOLS
    is set (CI, whose .ci/run installs them): there a missing tool fails the test.
    """
    import shutil

    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (Debian: see .ci/run for the package)"
    if os.environ.get("CASHIER_TEST_REQUIRE_TOOLS"):
        pytest.fail(message)
    pytest.skip(message)


# ------------------------------------------------------------------ PostgreSQL
#
# The shared-ledger tests run on a real PostgreSQL server: CASHIER_TEST_PG_URL, or the
# one this project's machines and CI have at 127.0.0.1:5432 (trust authentication,
# database `test`). Without a server they are skipped with the reason; where
# CASHIER_TEST_REQUIRE_PG is set (.ci/run) a missing server fails them instead.

PG_URL = os.environ.get("CASHIER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
_pg_problem: list[str] = []


def _pg_reachable() -> str | None:
    """None when the test server answers, else why not (asked once per run)."""
    if not _pg_problem:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - a runtime dependency
            _pg_problem.append(f"psycopg is not installed ({exc})")
        else:
            try:
                psycopg.connect(PG_URL, connect_timeout=3).close()
                _pg_problem.append("")
            except psycopg.Error as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                _pg_problem.append(f"no PostgreSQL server for the shared-ledger tests at {PG_URL} ({first});"
                                   " set CASHIER_TEST_PG_URL to use another")
    return _pg_problem[0] or None


def require_postgres() -> str:
    """The admin URL of the test server, or skip (fail under CASHIER_TEST_REQUIRE_PG)."""
    problem = _pg_reachable()
    if problem:
        if os.environ.get("CASHIER_TEST_REQUIRE_PG"):
            pytest.fail(problem)
        pytest.skip(problem)
    return PG_URL


def schema_url(base: str, schema: str) -> str:
    """`base` with its connections' search_path set to `schema` (a ledger of its own)."""
    from urllib.parse import quote

    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options={quote(f'-csearch_path={schema}')}"


class PgSchemas:
    """Fresh schemas on the test server, dropped at the end of the test."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.made: list[str] = []

    def new(self) -> str:
        import uuid

        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        self.made.append(name)
        return schema_url(self.base, name)

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '20s'")
            for name in self.made:
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def pg_schemas():
    schemas = PgSchemas(require_postgres())
    yield schemas
    schemas.drop()


@pytest.fixture
def pg_url(pg_schemas) -> str:
    """A fresh, empty shared ledger: its own schema on the test server."""
    return pg_schemas.new()


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def books(request, tmp_path) -> "str | Path":
    """Where a ledger lives, once per backend: a SQLite file, then a fresh schema on
    the PostgreSQL test server (Ledger(books) opens either)."""
    if request.param == "sqlite":
        return tmp_path / "ledger.sqlite3"
    return request.getfixturevalue("pg_url")
