"""Settings → 外设 (devices): receipt printer, cash drawer, voice and customer display.

The values are saved with the rest of the settings; the test buttons act on what is
typed now (a test print to a printer before saving is how a shop finds the address).
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLineEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from cashier.i18n import define, tr
from cashier.ui.widgets import keyed

define({
    "ui.dev.tab": ("外设", "Devices"),
    "ui.dev.shop": ("店名（小票和客显）", "Shop name (receipts, customer display)"),
    "ui.dev.printer": ("小票打印机", "Receipt printer"),
    "ui.dev.printer_hint": ("tcp://192.168.1.50:9100、usb://0416:5011、COM3、win32://打印机名、cups://打印机名；留空则不打印",
                            "tcp://192.168.1.50:9100, usb://0416:5011, COM3, win32://Printer, cups://Printer; empty: no printing"),
    "ui.dev.paper": ("纸宽", "Paper width"),
    "ui.dev.encoding": ("中文编码", "Chinese encoding"),
    "ui.dev.copies": ("打印份数", "Copies"),
    "ui.dev.auto_print": ("收款成功后自动打印小票", "Print a receipt after every payment"),
    "ui.dev.drawer": ("现金收款和交班清点时打开钱箱（接在打印机上）", "Open the cash drawer (on the printer) for cash sales and the count"),
    "ui.dev.test_print": ("打印测试页", "Print a test page"),
    "ui.dev.open_drawer": ("打开钱箱", "Open the drawer"),
    "ui.dev.voice": ("收款语音播报", "Announce payments aloud"),
    "ui.dev.volume": ("音量", "Volume"),
    "ui.dev.words_wechat": ("微信播报词", "WeChat words"),
    "ui.dev.words_alipay": ("支付宝播报词", "Alipay words"),
    "ui.dev.words_hint": ("用 {amount} 表示金额；留空用默认", "{amount} stands for the amount; empty for the default"),
    "ui.dev.test_voice": ("试听", "Test the voice"),
    "ui.dev.display": ("有第二块屏幕时显示客显（顾客看的金额和二维码）", "Customer display on a second screen (amount and QR for the customer)"),
    "ui.dev.screen": ("客显屏幕", "Customer display screen"),
    "ui.dev.screen_auto": ("自动（收银屏以外的第一块）", "Automatic (the first one that is not the clerk's)"),
    "ui.dev.slogan": ("客显标语", "Customer display slogan"),
    "ui.dev.sent": ("已发送到打印机", "Sent to the printer"),
    "ui.dev.drawer_opened": ("钱箱已打开", "Drawer opened"),
    "ui.dev.voice_sent": ("已播报测试语音", "The test words were spoken"),
})


class DevicesTab(QWidget):
    def __init__(self, page) -> None:
        super().__init__()
        self.page = page
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        inner = QWidget()
        form = QFormLayout(inner)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        from cashier.ui.settings_page import scrolling

        outer.addWidget(scrolling(inner), 1)
        self.shop = QLineEdit()
        self.shop.setMaxLength(40)
        self.printer = QLineEdit()
        self.printer.setPlaceholderText(tr("ui.dev.printer_hint"))
        self.printer.setToolTip(tr("ui.dev.printer_hint"))
        self.paper = QComboBox()
        for mm in (58, 80):
            self.paper.addItem(f"{mm} mm", mm)
        self.encoding = QComboBox()
        for value in ("gb18030", "gbk", "utf-8"):
            self.encoding.addItem(value.upper(), value)
        self.copies = QSpinBox()
        self.copies.setRange(1, 3)
        self.auto_print = QCheckBox(tr("ui.dev.auto_print"))
        self.drawer = QCheckBox(tr("ui.dev.drawer"))
        buttons = QHBoxLayout()
        self.test_print = QPushButton()
        keyed(self.test_print, tr("ui.dev.test_print"), "Ctrl+T")
        self.test_print.clicked.connect(self.print_test)
        self.open_drawer_button = QPushButton()
        keyed(self.open_drawer_button, tr("ui.dev.open_drawer"), "Ctrl+D")
        self.open_drawer_button.clicked.connect(self.open_drawer)
        buttons.addWidget(self.test_print)
        buttons.addWidget(self.open_drawer_button)
        buttons.addStretch(1)
        self.voice = QCheckBox(tr("ui.dev.voice"))
        self.volume = QSpinBox()
        self.volume.setRange(0, 100)
        self.volume.setSuffix(" %")
        self.words_wechat = QLineEdit()
        self.words_alipay = QLineEdit()
        for edit in (self.words_wechat, self.words_alipay):
            edit.setMaxLength(40)
            edit.setPlaceholderText(tr("ui.dev.words_hint"))
        self.test_voice = QPushButton()
        keyed(self.test_voice, tr("ui.dev.test_voice"), "Ctrl+L")
        self.test_voice.clicked.connect(self.voice_test)
        self.display = QCheckBox(tr("ui.dev.display"))
        self.screen = QComboBox()
        self.screen.addItem(tr("ui.dev.screen_auto"), -1)
        for index in range(4):
            self.screen.addItem(str(index + 1), index)
        self.slogan = QLineEdit()
        self.slogan.setMaxLength(40)
        form.addRow(tr("ui.dev.shop"), self.shop)
        form.addRow(tr("ui.dev.printer"), self.printer)
        form.addRow(tr("ui.dev.paper"), self.paper)
        form.addRow(tr("ui.dev.encoding"), self.encoding)
        form.addRow(tr("ui.dev.copies"), self.copies)
        form.addRow(self.auto_print)
        form.addRow(self.drawer)
        form.addRow(buttons)
        form.addRow(self.voice)
        form.addRow(tr("ui.dev.volume"), self.volume)
        form.addRow(tr("ui.dev.words_wechat"), self.words_wechat)
        form.addRow(tr("ui.dev.words_alipay"), self.words_alipay)
        voice_row = QHBoxLayout()
        voice_row.addWidget(self.test_voice)
        voice_row.addStretch(1)
        form.addRow(voice_row)
        form.addRow(self.display)
        form.addRow(tr("ui.dev.screen"), self.screen)
        form.addRow(tr("ui.dev.slogan"), self.slogan)
        # Saved with the rest of the settings; the Counter tab's Save (and its Ctrl+S)
        # is hidden while this tab shows, so this tab has its own.
        self.save_button = QPushButton()
        self.save_button.setObjectName("primary")
        keyed(self.save_button, tr("ui.set.save"), "Ctrl+S")
        self.save_button.clicked.connect(page.save)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.save_button)
        outer.addLayout(row)

    def load(self, s) -> None:
        self.shop.setText(s.shop_name)
        self.printer.setText(s.printer_url)
        self.paper.setCurrentIndex(max(0, self.paper.findData(s.printer_paper_mm)))
        self.encoding.setCurrentIndex(max(0, self.encoding.findData(s.printer_encoding)))
        self.copies.setValue(s.printer_copies)
        self.auto_print.setChecked(s.auto_print)
        self.drawer.setChecked(s.cash_drawer)
        self.voice.setChecked(s.voice_enabled)
        self.volume.setValue(s.voice_volume)
        self.words_wechat.setText(s.voice_words.get("wechat", ""))
        self.words_alipay.setText(s.voice_words.get("alipay", ""))
        self.display.setChecked(s.customer_display)
        self.screen.setCurrentIndex(max(0, self.screen.findData(s.customer_display_screen)))
        self.slogan.setText(s.customer_display_slogan)

    def values(self) -> dict:
        words = {w: e.text().strip() for w, e in (("wechat", self.words_wechat), ("alipay", self.words_alipay))
                 if e.text().strip()}
        return dict(shop_name=self.shop.text().strip(), printer_url=self.printer.text().strip(),
                    printer_paper_mm=self.paper.currentData(), printer_encoding=self.encoding.currentData(),
                    printer_copies=self.copies.value(), auto_print=self.auto_print.isChecked(),
                    cash_drawer=self.drawer.isChecked(), voice_enabled=self.voice.isChecked(),
                    voice_volume=self.volume.value(), voice_words=words, customer_display=self.display.isChecked(),
                    customer_display_screen=self.screen.currentData(),
                    customer_display_slogan=self.slogan.text().strip())

    # ------------------------------------------------------------------ tests
    def _devices(self):
        """Peripherals for what is typed now (not yet saved); None with a message."""
        from cashier.i18n import UserError
        from cashier.peripherals import Peripherals
        from cashier.settings import SettingsStore

        try:
            settings = SettingsStore().load_or_default()[0].replace(**self.values())
        except UserError as exc:
            self.page.message.setText(exc.message())
            return None
        return Peripherals(settings)

    def _run(self, action, done_text: str) -> None:
        devices = self._devices()
        if devices is None:
            return

        def work():
            try:
                return action(devices)
            finally:
                devices.close()

        self.page.window.workers.run(work, lambda _: self.page.message.setText(done_text),
                                     lambda exc: self.page.message.setText(_message(exc)))

    def print_test(self) -> None:
        self._run(_print_test, tr("ui.dev.sent"))

    def open_drawer(self) -> None:
        self._run(_open_drawer, tr("ui.dev.drawer_opened"))

    def voice_test(self) -> None:
        self._run(_say, tr("ui.dev.voice_sent"))


def _print_test(devices) -> None:
    """Print now, not through the queue: the shop wants to know whether it works."""
    from cashier.peripherals.printer import parse_printer_url, print_slip, test_slip

    s = devices.settings
    print_slip(parse_printer_url(s.printer_url),
               test_slip(shop=s.shop_name, counter=s.counter_id, paper_mm=s.printer_paper_mm,
                         encoding=s.printer_encoding),
               paper_mm=s.printer_paper_mm, encoding=s.printer_encoding)


def _open_drawer(devices) -> None:
    devices.open_drawer(force=True)


def _say(devices) -> None:
    from cashier.peripherals.voice import Announcer

    voice = Announcer(volume=devices.settings.voice_volume / 100, timeout=20)
    voice.say(tr("voice.test"))
    voice.close()


def _message(exc: BaseException) -> str:
    from cashier import logs

    return logs.one_line(logs.describe(exc))
