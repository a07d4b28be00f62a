"""Demo merchants: the simulator knows them, and demo mode builds profiles from them.

These credentials are the simulator's own, not a real merchant's: they open nothing
outside this machine.
"""

from __future__ import annotations

from cashier.gateways.base import Profile
from cashier.sim.core import Merchant

DEMO_MERCHANTS: tuple[Merchant, ...] = (
    Merchant("ltzf", "1230000109", "demo-ltzf-secret-0000000000000001"),
    Merchant("epay", "1001", "demo-epay-secret-000000000000002"),
    Merchant("fengniao", "20170815152552020001", "demo-fengniao-secret-000000003", app_id="2017081443803662"),
    Merchant("weidoufu", "demo-access-key-weidoufu-00004", "demo-weidoufu-secret-00000000004"),
    Merchant("its500", "demo-its500-appkey-0005", "demo-its500-appsecret-000000005"),
)

DEMO_TITLES = {
    "ltzf": "演示·蓝兔支付",
    "epay": "演示·易支付",
    "fengniao": "演示·蜂鸟",
    "weidoufu": "演示·微豆付",
    "its500": "演示·站长付",
}

# The same profiles as an English-speaking clerk reads them: the stored names above
# stay (they are ledger keys); only what the screen shows changes (profile_title).
DEMO_TITLES_EN = {
    "ltzf": "Demo · LTZF",
    "epay": "Demo · Epay",
    "fengniao": "Demo · Fengniao",
    "weidoufu": "Demo · Weidoufu",
    "its500": "Demo · ITS500",
}

# Per-gateway extra settings for demo profiles, from the simulator's base URL.
DEMO_EXTRA = {
    # its500 answers order status on another host (admin.zhanzhangfu.com): the
    # simulator serves it below its own prefix.
    "its500": lambda base: {"query_url": f"{base}/its500/order/onlinePayFindResult"},
}


def demo_profiles(sim_base_url: str, notify_url: str = "http://127.0.0.1/notify") -> list[tuple[Profile, str]]:
    """One profile per gateway, pointing at a running simulator, with its secret."""
    out = []
    for m in DEMO_MERCHANTS:
        profile = Profile(
            name=DEMO_TITLES[m.gateway],
            gateway=m.gateway,
            base_url=f"{sim_base_url.rstrip('/')}/{m.gateway}",
            merchant_id=m.merchant_id,
            app_id=m.app_id,
            notify_url=notify_url,
            extra={"demo": "1", **DEMO_EXTRA.get(m.gateway, lambda base: {})(sim_base_url.rstrip("/"))},
        )
        out.append((profile, m.secret))
    return out
