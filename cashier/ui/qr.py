"""The QR code, drawn locally from `qrcode`'s module matrix with QPainter: whole
pixels per module, so it is crisp at any size. When a gateway gives only an image
(its500's WeChat personal code), the downloaded image is shown instead."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

QUIET_ZONE = 4  # modules of white around the code, as the standard asks


def qr_matrix(text: str) -> list[list[bool]]:
    """The module matrix for `text` (no quiet zone), error correction M."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(text)
    code.make(fit=True)
    return [list(map(bool, row)) for row in code.get_matrix()]


class QrWidget(QWidget):
    painted = Signal()  # after a paint that showed a code (tests, the bench)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.payload: str | None = None
        self.matrix: list[list[bool]] | None = None
        self.image: QImage | None = None
        self.module_px = 0  # pixels per module in the last paint
        self.code_rect = QRect()  # where the code (without quiet zone) was painted
        self.setMinimumSize(220, 220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def set_payload(self, text: str | None) -> None:
        self.payload = text or None
        self.matrix = qr_matrix(text) if text else None
        self.image = None
        self.update()

    def set_image(self, data: bytes | None) -> None:
        self.payload = None
        self.matrix = None
        image = QImage()
        self.image = image if data and image.loadFromData(data) else None
        self.update()

    def clear(self) -> None:
        self.payload = self.matrix = self.image = None
        self.update()

    def grid(self) -> list[list[bool]] | None:
        """Read the painted pixels back into a module grid (dark = True), sampling the
        centre of each module: proof that what is on screen is the matrix."""
        if not self.matrix or self.module_px <= 0:
            return None
        shot = self.grab().toImage()
        ratio = shot.devicePixelRatio() or 1.0
        n = len(self.matrix)
        out = []
        for row in range(n):
            line = []
            for col in range(n):
                x = (self.code_rect.x() + col * self.module_px + self.module_px / 2) * ratio
                y = (self.code_rect.y() + row * self.module_px + self.module_px / 2) * ratio
                line.append(QColor(shot.pixel(int(x), int(y))).lightness() < 128)
            out.append(line)
        return out

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        side = min(self.width(), self.height())
        if self.matrix:
            n = len(self.matrix)
            self.module_px = max(1, side // (n + 2 * QUIET_ZONE))
            size = self.module_px * n
            left = (self.width() - size) // 2
            top = (self.height() - size) // 2
            self.code_rect = QRect(left, top, size, size)
            painter.setPen(Qt.PenStyle.NoPen)
            black = QColor("black")
            m = self.module_px
            for r, row in enumerate(self.matrix):
                c = 0
                while c < n:  # one rectangle per run of dark modules
                    if row[c]:
                        start = c
                        while c < n and row[c]:
                            c += 1
                        painter.fillRect(left + start * m, top + r * m, (c - start) * m, m, black)
                    else:
                        c += 1
            painter.end()
            self.painted.emit()
            return
        if self.image is not None and not self.image.isNull():
            pix = QPixmap.fromImage(self.image).scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.FastTransformation)
            painter.drawPixmap((self.width() - pix.width()) // 2, (self.height() - pix.height()) // 2, pix)
            painter.end()
            self.painted.emit()
            return
        painter.end()
