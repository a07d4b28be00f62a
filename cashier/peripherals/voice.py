"""Voice announcement (语音播报): "微信收款 12.50 元" said aloud on success (no Qt).

`Announcer.say()` never waits: it hands the text to a thread that feeds a worker
process (`cashier.peripherals.voice_worker`, pyttsx3 inside). A worker that has not
answered within `timeout` seconds is killed and a fresh one is started for the next
announcement, so a hung speech engine costs at most that announcement.
"""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Sequence

from cashier.i18n import define, tr
from cashier.money import format_yuan

define({
    "voice.wechat": ("微信收款 {amount} 元", "WeChat payment received, {amount} yuan"),
    "voice.alipay": ("支付宝收款 {amount} 元", "Alipay payment received, {amount} yuan"),
    "voice.unionpay": ("云闪付收款 {amount} 元", "UnionPay payment received, {amount} yuan"),
    "voice.qq": ("QQ钱包收款 {amount} 元", "QQ Wallet payment received, {amount} yuan"),
    "voice.cash": ("现金收款 {amount} 元", "Cash received, {amount} yuan"),
    "voice.unknown": ("收款 {amount} 元", "Payment received, {amount} yuan"),
    "voice.refund": ("退款 {amount} 元", "Refunded {amount} yuan"),
    "voice.test": ("语音播报测试，微信收款 12.50 元", "Voice test, WeChat payment received, 12.50 yuan"),
    "voice.failed": ("语音播报失败：{reason}", "Voice announcement failed: {reason}"),
    "voice.bad_words": ("播报词必须包含 {amount}，最多 40 个字", "The words must contain {amount}, at most 40 characters"),
})

log = logging.getLogger("cashier.voice")

WALLETS = ("wechat", "alipay", "unionpay", "qq", "cash", "unknown")


def announcement(wallet: str, amount: Decimal, words: dict[str, str] | None = None) -> str:
    """The words for a payment: the shop's own template for the wallet, or the default."""
    template = (words or {}).get(wallet) or tr(f"voice.{wallet if wallet in WALLETS else 'unknown'}")
    try:
        return template.format(amount=format_yuan(amount))
    except (KeyError, IndexError, ValueError):
        return tr("voice.unknown", amount=format_yuan(amount))


def valid_words(template: str) -> bool:
    return isinstance(template, str) and "{amount}" in template and len(template) <= 40


def worker_command() -> list[str]:
    """How to start the worker: the frozen app runs it with a flag of its own."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--voice-worker"]
    return [sys.executable, "-m", "cashier.peripherals.voice_worker"]


@dataclass(frozen=True)
class Spoken:
    text: str
    ok: bool
    error: str = ""


class Announcer:
    def __init__(self, *, volume: float = 1.0, timeout: float = 15.0, command: Sequence[str] | None = None,
                 on_done: Callable[[Spoken], None] | None = None) -> None:
        self.volume = volume
        self.timeout = timeout
        self._command = list(command or worker_command())
        self._on_done = on_done
        self._requests: queue.Queue = queue.Queue()
        self._proc: subprocess.Popen | None = None
        self._answers: queue.Queue = queue.Queue()
        self._next_id = 0
        self._thread = threading.Thread(target=self._loop, name="voice", daemon=True)
        self._thread.start()
        self.killed = 0  # hung workers killed so far

    def say(self, text: str, *, wav: str | None = None) -> None:
        """Queue `text` to be spoken (or written to `wav`). Returns at once."""
        self._requests.put((text, wav))

    def close(self) -> None:
        self._requests.put(None)
        self._thread.join(timeout=self.timeout + 2)
        self._kill()

    @property
    def worker_pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    # -------------------------------------------------------------- internals
    def _start(self) -> subprocess.Popen:
        proc = subprocess.Popen(self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, encoding="utf-8")
        answers = self._answers = queue.Queue()

        def read() -> None:
            with proc.stdout:
                for line in proc.stdout:
                    try:
                        answers.put(json.loads(line))
                    except ValueError:
                        continue
            answers.put(None)  # the worker ended

        threading.Thread(target=read, name="voice-reader", daemon=True).start()
        return proc

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:
            proc.stdin.close()
        except OSError:
            pass

    def _loop(self) -> None:
        while True:
            item = self._requests.get()
            if item is None:
                return
            text, wav = item
            result = self._speak(text, wav)
            if not result.ok:
                log.warning("voice: %s", result.error)
            if self._on_done is not None:
                try:
                    self._on_done(result)
                except Exception:
                    log.exception("voice listener failed")

    def _speak(self, text: str, wav: str | None) -> Spoken:
        if self._proc is None or self._proc.poll() is not None:
            try:
                self._proc = self._start()
            except OSError as exc:
                return Spoken(text, False, str(exc)[:120])
        self._next_id += 1
        ident = self._next_id
        try:
            self._proc.stdin.write(json.dumps({"id": ident, "text": text, "volume": self.volume, "wav": wav},
                                              ensure_ascii=False) + "\n")
            self._proc.stdin.flush()
        except (OSError, ValueError) as exc:
            self._kill()
            return Spoken(text, False, str(exc)[:120] or "worker gone")
        while True:
            try:
                answer = self._answers.get(timeout=self.timeout)
            except queue.Empty:
                # Hung: kill it; the next announcement starts a fresh worker.
                self._kill()
                self.killed += 1
                return Spoken(text, False, "the speech engine did not answer; restarted")
            if answer is None:
                self._kill()
                return Spoken(text, False, "the speech worker ended")
            if answer.get("id") == ident:
                return Spoken(text, bool(answer.get("ok")), str(answer.get("error", "")))
