"""Voice announcements through the real worker process (pyttsx3 + espeak-ng on Linux)."""

from __future__ import annotations

import sys
import threading
import wave
from decimal import Decimal

from cashier.gateways.base import Method
from cashier.ledger import states as S
from cashier.peripherals import Peripherals
from cashier.peripherals.voice import Announcer, announcement
from cashier.settings import Settings
from tests.conftest import require_tool

# A worker that reads requests and never answers: a hung speech engine.
HUNG_WORKER = [sys.executable, "-c", "import sys, time\nfor line in sys.stdin: time.sleep(3600)"]


def done_collector():
    results, ready = [], threading.Event()

    def done(spoken):
        results.append(spoken)
        ready.set()

    return results, ready, done


def test_words_per_wallet_and_the_shops_own():
    assert announcement("wechat", Decimal("12.5")) == "微信收款 12.50 元"
    assert announcement("alipay", Decimal("3")) == "支付宝收款 3.00 元"
    assert announcement("wechat", Decimal("1"), {"wechat": "到账 {amount} 元"}) == "到账 1.00 元"
    assert announcement("martian", Decimal("1")) == "收款 1.00 元"


def test_the_worker_speaks_chinese_into_a_wav_file(tmp_path):
    require_tool("espeak-ng")
    results, ready, done = done_collector()
    voice = Announcer(on_done=done, timeout=60)
    try:
        out = tmp_path / "say.wav"
        voice.say("微信收款 12.50 元", wav=str(out))
        assert ready.wait(60)
        assert results[0].ok, results[0].error
        with wave.open(str(out)) as w:
            seconds = w.getnframes() / w.getframerate()
        # Seven syllables and a number: about one to six seconds of speech.
        assert 1.0 < seconds < 8.0
    finally:
        voice.close()


def test_a_hung_worker_is_killed_and_replaced(tmp_path):
    results, ready, done = done_collector()
    voice = Announcer(command=HUNG_WORKER, timeout=0.5, on_done=done)
    try:
        voice.say("微信收款 1.00 元")
        assert ready.wait(10)
        assert not results[0].ok and voice.killed == 1
        ready.clear()
        voice.say("微信收款 2.00 元")  # a fresh worker is started for the next one
        assert ready.wait(10)
        assert voice.killed == 2
    finally:
        voice.close()


def test_a_hung_speech_engine_does_not_delay_the_counter(env, tmp_path):
    """The sale completes and the next one starts while the worker is still hung: the
    engine never waits for speech."""
    results, ready, done = done_collector()
    hung = Announcer(command=HUNG_WORKER, timeout=120, on_done=done)
    devices = Peripherals(Settings(voice_enabled=True), announcer=hung, clock=env.clock.now)
    env.engine.subscribe(devices.on_engine_event)
    try:
        first = env.engine.start_qr(env.profile("ltzf"), Decimal("12.50"), Method.WECHAT)
        env.sim_client.pay("ltzf", first.out_trade_no)
        assert env.run_until(first.out_trade_no, {S.PAID}).state == S.PAID
        second = env.engine.start_qr(env.profile("ltzf"), Decimal("3.00"), Method.ALIPAY)
        env.sim_client.pay("ltzf", second.out_trade_no)
        assert env.run_until(second.out_trade_no, {S.PAID}).state == S.PAID
        assert hung.worker_pid is not None  # still hung on the first announcement
        assert not ready.is_set() and hung.killed == 0
    finally:
        hung.timeout = 0.1
        hung.close()
