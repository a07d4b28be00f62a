"""Engine events (called on whatever thread made the change) re-emitted as Qt signals,
so every handler runs on the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class EngineBridge(QObject):
    order_changed = Signal(object)  # OrderRecord
    refund_changed = Signal(object)  # RefundRecord

    def __init__(self, engine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        engine.subscribe(self._on_event)

    def _on_event(self, event) -> None:  # any thread
        # Emitting from another thread queues the call into the GUI thread (the
        # receivers live there); from the GUI thread it is delivered at once.
        try:
            if event.kind == "order" and event.order is not None:
                self.order_changed.emit(event.order)
            elif event.kind == "refund" and event.refund is not None:
                self.refund_changed.emit(event.refund)
        except RuntimeError:  # the bridge was deleted while the engine ran on
            pass
