"""The Qt side of the barcode-scanner detector: an event filter on the whole
application that feeds `cashier.scanner.WedgeDetector` and replays what turned out
to be a person's typing to the widget it was meant for.

It acts only where a payment code belongs: `scope(widget)` says whether keys sent to
a widget may be a scan (the window answers: the checkout, no dialog open). Every
other key (a dialog, a text field, a search box) lands as typed, at any speed.

Keys that may start or continue a scan are held (never shown) until the detector
decides; a person's key reaches its widget at most `max_gap_ms` late. Shortcuts,
clicks and an input method's composition end a burst first, so order is kept.
"""

from __future__ import annotations

import time
import weakref
from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget

from cashier.scanner import Outcome, ScannerConfig, WedgeDetector

# Qt.Key values as ints: touching the Qt.Key enum at import costs start-up time.
KEY_ESCAPE, KEY_TAB, KEY_BACKTAB, KEY_BACKSPACE = 0x01000000, 0x01000001, 0x01000002, 0x01000003
KEY_RETURN, KEY_ENTER, KEY_DELETE = 0x01000004, 0x01000005, 0x01000007
KEY_F1 = 0x01000030
_TERMINATORS = {KEY_RETURN, KEY_ENTER, KEY_TAB}
_NEVER = {KEY_ESCAPE, KEY_BACKSPACE, KEY_DELETE, KEY_BACKTAB}
_CHORD = None  # Ctrl|Alt|Meta, made on first use


class _Held:
    __slots__ = ("receiver", "key", "modifiers", "text", "native")

    def __init__(self, receiver: QWidget, event: QKeyEvent) -> None:
        self.receiver = weakref.ref(receiver)
        self.key = event.key()
        self.modifiers = event.modifiers()
        self.text = event.text()


class ScannerFilter(QObject):
    """Install with `app.installEventFilter(filter)`. Emits `scanned(Scan)`."""

    scanned = Signal(object)

    def __init__(self, config: ScannerConfig | None = None, *, clock: Callable[[], float] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.detector = WedgeDetector(config)
        self._clock = clock  # ms; tests inject one, else event timestamps are used
        self._offset = 0.0
        self._replaying = False
        self._swallow_release: dict[int, int] = {}
        self.enabled = True
        self.scope: Callable[[QObject], bool] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._due)

    # -- configuration ----------------------------------------------------------
    def set_config(self, config: ScannerConfig) -> None:
        self._apply(self.detector.reconfigure(config))

    # -- time -------------------------------------------------------------------
    def _stamp(self, event: QKeyEvent) -> float:
        if self._clock is not None:
            return float(self._clock())
        mono = time.monotonic() * 1000.0
        ts = event.timestamp()
        if ts:
            self._offset = mono - ts
            return float(ts)
        self._offset = 0.0
        return mono

    def _now(self) -> float:
        if self._clock is not None:
            return float(self._clock())
        return time.monotonic() * 1000.0 - self._offset

    def poll(self) -> None:
        """End a burst that has gone quiet (called by the idle timer; tests call it
        after moving their clock)."""
        self._apply(self.detector.flush(self._now()))
        self._arm()

    def _due(self) -> None:
        """The idle timer came due. Keys may be waiting unread behind it (the GUI
        thread was busy past the deadline while the scanner kept sending): judge the
        burst one turn of the event loop later, once they are in."""
        QTimer.singleShot(0, self.poll)

    def _arm(self) -> None:
        deadline = self.detector.deadline()
        if deadline is None:
            self._timer.stop()
            return
        wait = max(1, int(deadline - self._now()) + 2)
        self._timer.start(wait)

    # -- the filter -------------------------------------------------------------
    def _feedable(self, event: QKeyEvent) -> bool:
        if not self.enabled or self.detector.composing or event.isAutoRepeat():
            return False
        global _CHORD
        if _CHORD is None:
            _CHORD = (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                      | Qt.KeyboardModifier.MetaModifier)
        if event.modifiers() & _CHORD:
            # A scanner's control prefix (Ctrl+B = STX) only inside a burst.
            text = event.text()
            return bool(text) and self.detector.pending and ord(text[0]) < 32 and event.key() not in _NEVER
        key = event.key()
        if key in _NEVER:
            return False
        if key in _TERMINATORS:
            return self.detector.pending
        text = event.text()
        return bool(text) and text.isprintable()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if self._replaying:
            return False
        kind = event.type()
        if kind == QEvent.Type.InputMethod:
            composing = bool(event.preeditString())
            if composing != self.detector.composing:
                self._apply(self.detector.set_composing(composing))
            return False
        if not isinstance(obj, QWidget):
            return False  # the window gets key events first; act once, on the widget
        if kind in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) and self.scope is not None \
                and not self.scope(obj):
            if self.detector.pending:
                self._apply(self.detector.end())
            return False
        if kind == QEvent.Type.ShortcutOverride:
            if self._feedable(event):
                event.accept()  # no shortcut for a key that may be part of a scan
                return True
            if self.detector.pending:
                self._apply(self.detector.end())
            return False
        if kind == QEvent.Type.KeyPress:
            if not self._feedable(event):
                if self.detector.pending:
                    self._apply(self.detector.end())
                return False
            held = _Held(obj, event)
            self._swallow_release[held.key] = self._swallow_release.get(held.key, 0) + 1
            self._apply(self.detector.feed(event.text(), self._stamp(event), held))
            self._arm()
            return True
        if kind == QEvent.Type.KeyRelease:
            count = self._swallow_release.get(event.key(), 0)
            if count and not event.isAutoRepeat():
                if count == 1:
                    del self._swallow_release[event.key()]
                else:
                    self._swallow_release[event.key()] = count - 1
                return True
            return False
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin) and self.detector.pending:
            self._apply(self.detector.end())
        return False

    # -- results ----------------------------------------------------------------
    def _apply(self, outcome: Outcome) -> None:
        if outcome.release:
            self._replay(outcome.release)
        if outcome.scan is not None:
            self.scanned.emit(outcome.scan)

    def _replay(self, keys) -> None:
        self._replaying = True
        try:
            for key in keys:
                held = key.payload
                if held is None:
                    continue
                receiver = held.receiver()
                if receiver is None:
                    continue
                for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                    QApplication.sendEvent(receiver, QKeyEvent(kind, held.key, held.modifiers, held.text))
        finally:
            self._replaying = False
