"""The context the window opens: its HTTP warm-up is a head start, never a fault."""

from __future__ import annotations

from cashier.services import open_context


class _NoClient:
    """A gateway's HTTP layer whose client cannot be made (a broken TLS store, say)."""

    def warm_up(self) -> None:
        raise OSError("no CA bundle")

    def close(self) -> None:
        pass


def test_warm_up_makes_each_client_and_a_failing_one_stops_nothing(isolated_home, tmp_path):
    ctx = open_context(demo=True, start=False, ledger_path=tmp_path / "ledger.sqlite3")
    try:
        names = ctx.engine.profiles()
        broken = ctx.engine.gateway(names[0])
        broken.http.close()
        broken.http = _NoClient()
        # one client that cannot be made keeps neither the others from being made nor
        # (the window runs engine.start() after it) the engine from starting
        ctx.warm_up()
        for name in names[1:]:
            assert ctx.engine.gateway(name).http._http_client is not None
    finally:
        ctx.close()
