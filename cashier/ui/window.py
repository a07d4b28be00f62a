"""The main window: navigation, pages, status bar; owns the worker pool, the engine
bridge and the scanner filter. The context (engine, ledger, simulator in demo mode)
is opened off the GUI thread after the first frame, so the window shows at once."""

from __future__ import annotations

# Most Qt names are imported where the pages are built: the first use of a class makes
# PySide6 build its Python enums (the Qt namespace alone ~30 ms), and the start-up
# panel must paint before that.
from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QWidget

from cashier.counter import profile_title
from cashier.i18n import define, tr
from cashier.ui.workers import Workers



def _drawer(settings):
    """Peripherals for the cash drawer when a receipt printer is set up, else None."""
    if not getattr(settings, "printer_url", "") or not getattr(settings, "cash_drawer", False):
        return None
    from cashier.peripherals import Peripherals

    return Peripherals(settings)


def _log():
    import logging

    return logging.getLogger("cashier.ui")

define({
    "ui.title": ("收银台", "Cashier"),
    "ui.title_demo": ("收银台（演示模式：不会真实扣款）", "Cashier (demo: no real money)"),
    "ui.starting": ("收银台\n正在打开…", "Cashier\nopening…"),
    "ui.nav.checkout": ("收款", "Checkout"),
    "ui.nav.attention": ("待处理", "To check"),
    "ui.nav.attention_n": ("待处理 ({n})", "To check ({n})"),
    "ui.nav.history": ("订单/退款", "Orders/refunds"),
    "ui.nav.report": ("日报", "Daily report"),
    "ui.nav.settings": ("设置", "Settings"),
    "ui.status.profile": ("商户：{name}", "Profile: {name}"),
    "ui.status.no_profile": ("商户：未配置", "Profile: none"),
    "ui.status.connecting": ("● 正在连接", "● Connecting"),
    "ui.status.online": ("● 已连接", "● Connected"),
    "ui.status.offline": ("● 网关无法连接", "● Gateway unreachable"),
    "ui.status.demo": ("演示模式", "Demo mode"),
    "ui.status.pending": ("未完成订单：{n}", "Unresolved orders: {n}"),
    "ui.profile_problem": ("商户配置不可用：{text}（请在“设置”里重新输入密钥）", "Profile unusable: {text} (enter its key again in Settings)"),
    "ui.start_failed": ("启动失败：{reason}", "Start-up failed: {reason}"),
    "ui.status.no_shift": ("未开班（F10 现金 · F11 交班 · F12 对账）", "No shift open (F10 cash · F11 shift · F12 reconcile)"),
    "ui.status.clerk": ("收银员：{clerk}（第 {shift_id} 班）", "Clerk: {clerk} (shift {shift_id})"),
    "ui.books_no_merchant": ("还没有设置商户账户，现金、交班和对账暂时不能用（按 Alt+0 回到欢迎页）",
                             "No merchant account is set up yet: cash, shifts and reconciling wait for one (Alt+0: the welcome page)"),
    "ui.books_not_ready": ("账本还在打开，请稍候再按", "The books are still opening: press it again in a moment"),
    "ui.close_busy": ("有 {count} 笔收款/退款正在进行，完成后才能关闭收银台",
                      "{count:plural:payment or refund,payments or refunds} in progress: the counter can close when done"),
})


class MainWindow(QMainWindow):
    context_ready = Signal(object)
    device_message = Signal(str)  # from the print queue's thread: shown on the GUI thread
    first_frame = Signal()
    pages_painted = Signal()  # the first frame with the pages (the checkout) on it

    def __init__(self, *, demo: bool = False, settings=None, scanner_clock=None, open_context=None,
                 deferred: bool = False) -> None:
        """deferred: paint a plain start-up panel first and build the pages with
        complete() (the app calls it right after the first frame, so the window is on
        screen at once while the checkout is built). Otherwise built here."""
        super().__init__()
        from cashier import settings as settings_mod

        self.demo = demo
        self.settings = settings or settings_mod.load()
        self.ctx = None
        self.engine = None  # only for the bridge and start-up; pages use self.counter
        self.counter = None  # cashier.counter.Counter: what the pages may ask
        self.bridge = None
        self._open_context = open_context
        self._scanner_clock = scanner_clock
        self._painted = False
        self._pages_painted = False
        self.built = False
        self._notes: list[str] = []  # flashed before the status bar exists
        self.books = None
        self.ask_handover_on_close = False  # the app turns it on (ui.main); embedded windows and tests do not
        self.workers = Workers(self)
        self.setWindowTitle(tr("ui.title_demo") if demo else tr("ui.title"))
        self.setMinimumSize(640, 480)
        if deferred:
            # No Qt enum is touched here: PySide6 builds a class's enums on first use
            # (the Qt namespace alone ~30 ms), which is what the complete window costs.
            starting = QLabel(tr("ui.starting"))
            starting.setObjectName("starting")  # centred by the style sheet
            self.setCentralWidget(starting)
        else:
            self.complete()

    def complete(self) -> None:
        """Build the pages, the status bar, the keys and the scanner filter (once)."""
        if self.built:
            return
        self.built = True
        from cashier.ui.scanfilter import ScannerFilter

        self.scanner = ScannerFilter(self.settings.scanner_config(), clock=self._scanner_clock, parent=self)
        self.scanner.scope = self._scan_scope
        self._build()
        self.scanner.scanned.connect(self._on_scan)
        QApplication.instance().installEventFilter(self.scanner)
        from cashier.ui.widgets import DialogActivator

        self.dialog_activator = DialogActivator(self)
        QApplication.instance().installEventFilter(self.dialog_activator)
        notes, self._notes = self._notes, []
        for text in notes:
            self.flash(text)
        # The window took the keyboard when shown (only the start-up panel was there):
        # the checkout has it now, or the clerk's first keys and scans go nowhere.
        self.checkout.setFocus()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        from PySide6.QtGui import QKeySequence, QShortcut
        from PySide6.QtWidgets import (
            QButtonGroup, QFrame, QHBoxLayout, QPushButton, QSizePolicy, QStackedWidget, QVBoxLayout,
        )

        from cashier.ui.checkout import CheckoutPage

        central = QWidget()
        root = QHBoxLayout(central)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        nav = QFrame()
        nav.setObjectName("nav")
        nav.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)  # as wide as its labels
        nav_layout = QVBoxLayout(nav)
        self.nav_group = QButtonGroup(self)
        self.nav_group.setExclusive(True)
        self.pages = QStackedWidget()
        self.pages.setObjectName("pages")
        self.nav_buttons: dict[str, "QPushButton"] = {}

        self.checkout = CheckoutPage(self)
        self.checkout.status_message.connect(self.flash)
        self.checkout.attention_changed.connect(self.refresh_attention)
        self._add_page("checkout", self.checkout, nav_layout)

        self._lazy_pages = {"attention": None, "history": None, "report": None, "settings": None}
        for name in self._lazy_pages:
            holder = QWidget()
            QVBoxLayout(holder).setContentsMargins(0, 0, 0, 0)
            self._add_page(name, holder, nav_layout)
        nav_layout.addStretch(1)
        self.customer_holder = QVBoxLayout()
        nav_layout.addLayout(self.customer_holder)
        root.addWidget(nav)
        root.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self.nav_buttons["checkout"].setChecked(True)

        from cashier.ui.widgets import StatusLine, StatusNote

        self.status_profile = QLabel(tr("ui.status.no_profile"))
        self.status_conn = QLabel(tr("ui.status.connecting"))
        self.status_pending = QLabel(tr("ui.status.pending", n=0))
        self.status_note = StatusNote("")  # whole on the bar's line: the other items give way while it shows
        bar = StatusLine(self.status_note)
        self.statusBar().addWidget(bar, 1)
        bar.addWidget(self.status_profile)
        bar.addWidget(self.status_conn)
        bar.addWidget(self.status_pending)
        bar.addWidget(self.status_note, 1)

        # F9 as well as Alt+1: back to the checkout from anywhere, one key.
        QShortcut(QKeySequence("F9"), self, activated=lambda: self.show_page("checkout"))
        QShortcut(QKeySequence("Ctrl+Shift+P"), self, activated=self._customer_pays)
        # The back office: the cash key (F10), 交班 (F11), 对账 (F12).
        self.status_clerk = QLabel(tr("ui.status.no_shift"))
        bar.addWidget(self.status_clerk)
        QShortcut(QKeySequence("F10"), self, activated=self.cash_sale)
        QShortcut(QKeySequence("Shift+F10"), self, activated=self.cash_move)
        QShortcut(QKeySequence("F11"), self, activated=self.close_shift)
        QShortcut(QKeySequence("F12"), self, activated=self.reconcile)

    def _add_page(self, name: str, widget: QWidget, nav_layout) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QKeySequence, QShortcut
        from PySide6.QtWidgets import QPushButton

        button = QPushButton()
        button.setObjectName("nav")
        button.setCheckable(True)
        # Pages are reached by their keys (Alt+1…5, shown on the buttons); the menu
        # takes no focus, so typing on the checkout never lands in it.
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        index = len(self.nav_buttons) + 1
        button.setProperty("pageKey", f"Alt+{index}")
        QShortcut(QKeySequence(f"Alt+{index}"), self, activated=lambda n=name: self.show_page(n))
        button.clicked.connect(lambda _=False, n=name: self.show_page(n))
        self.nav_group.addButton(button)
        nav_layout.addWidget(button)
        self.nav_buttons[name] = button
        self._set_nav_text(name, tr("ui.nav." + name))
        self.pages.addWidget(widget)
        widget.setProperty("page", name)

    # ------------------------------------------------------------------ screen
    def fit_to(self, area) -> None:
        """Size to `area` (a screen's available geometry, logical pixels) and scale
        text and targets to it."""
        from cashier.ui.app import apply_scale, scale_for

        apply_scale(scale_for(area.width(), area.height()))
        self.setGeometry(area)

    def show_on_screen(self) -> None:
        """Show maximised on the screen's available area; full screen when the
        kiosk setting is on. The geometry is set first, so the window fits even
        where no window manager maximises it."""
        screen = self.screen() or QApplication.primaryScreen()
        kiosk = bool(getattr(self.settings, "kiosk", False))
        area = screen.geometry() if kiosk else screen.availableGeometry()
        self.fit_to(area)
        if kiosk:
            self.showFullScreen()
        else:
            self.showMaximized()
        # Without a window manager (a kiosk POS) nobody gives the new window the
        # keyboard: ask for it, or the clerk's first keys (and scans) go nowhere.
        self.raise_()
        self.activateWindow()

    def _set_nav_text(self, name: str, text: str) -> None:
        button = self.nav_buttons[name]
        button.setText(f"{text}\n{button.property('pageKey')}")  # narrow: the pages get the width

    def page(self, name: str) -> QWidget:
        for i in range(self.pages.count()):
            w = self.pages.widget(i)
            if w.property("page") == name:
                return w
        raise KeyError(name)

    def show_page(self, name: str) -> QWidget:
        if name == "attention":
            self.attention  # noqa: B018 (built on first use)
        elif name in self._lazy_pages and self._lazy_pages[name] is None:
            self._lazy_pages[name] = self._make_page(name)
            holder = self.page(name)
            holder.layout().addWidget(self._lazy_pages[name])
        widget = self.page(name)
        self.pages.setCurrentWidget(widget)
        self.nav_buttons[name].setChecked(True)
        inner = self._lazy_pages.get(name) or widget
        if hasattr(inner, "activate"):
            inner.activate()
        if name == "checkout":
            self.checkout.setFocus()
        elif hasattr(inner, "first_focus"):
            from PySide6.QtCore import Qt

            inner.first_focus().setFocus(Qt.FocusReason.ShortcutFocusReason)
        return inner

    @property
    def attention(self):
        page = self._lazy_pages["attention"]
        if page is None:
            from cashier.ui.attention import AttentionPage

            page = self._lazy_pages["attention"] = AttentionPage(self)
            self.page("attention").layout().addWidget(page)
        return page

    def _make_page(self, name: str) -> QWidget:
        if name == "history":
            from cashier.ui.history import HistoryPage

            return HistoryPage(self)
        if name == "report":
            from cashier.ui.report import ReportPage

            return ReportPage(self)
        from cashier.ui.settings_page import SettingsPage

        return SettingsPage(self)

    # ------------------------------------------------------------------ start-up
    def event(self, event) -> bool:
        result = super().event(event)
        if event.type() == QEvent.Type.UpdateRequest and not self._pages_painted:
            if not self._painted:
                self._painted = True
                QTimer.singleShot(0, self.first_frame.emit)
            if self.built:
                self._pages_painted = True
                QTimer.singleShot(0, self.pages_painted.emit)
        return result

    def start_context(self) -> None:
        """Open ledger + engine (+ simulator in demo mode) on a worker thread."""
        opener = self._open_context
        demo = self.demo

        def open_it():
            if opener is not None:
                return opener()
            from cashier.services import open_context

            return open_context(demo=demo, start=False, exclusive=True)

        self.workers.run(open_it, self._context_opened, self._context_failed)

    def _context_failed(self, exc: BaseException) -> None:
        from cashier import logs

        _log().error("context failed: %r", exc)
        reason = logs.one_line(logs.describe(exc))  # a UserError's message, a file problem named, or a bug logged
        self.status_conn.setText(tr("ui.status.offline"))
        self.flash(tr("ui.start_failed", reason=reason))
        self.checkout._say(tr("ui.start_failed", reason=reason))

    def _context_opened(self, ctx) -> None:
        self.set_context(ctx)
        if ctx.ledger.integrity == "not checked":  # too big to read whole at open: now, on a worker
            self.workers.run(ctx.ledger.check_integrity, None, self._ledger_damaged)
        engine = ctx.engine
        if getattr(engine, "_thread", None) is None and not getattr(ctx, "manual", False):
            # start() runs recovery (network): on a worker, never here. The HTTP layer
            # is loaded first, on the same worker, while the clerk types an amount.
            def start() -> None:
                warm_up = getattr(ctx, "warm_up", None)
                if warm_up is not None:
                    warm_up()
                engine.start()

            self.workers.run(start, lambda _: self._set_online(True), lambda exc: self._set_online(False))
        else:
            self._set_online(True)

    def _ledger_damaged(self, exc: BaseException) -> None:
        from cashier import logs

        line = logs.one_line(logs.describe(exc))
        self.flash(line)
        self.checkout._say(line)

    def set_context(self, ctx) -> None:
        from cashier.ui.bridge import EngineBridge

        from cashier.counter import Counter

        self.ctx = ctx
        self.engine = ctx.engine
        self.counter = Counter(ctx)
        self.bridge = EngineBridge(self.engine, self)
        self.bridge.order_changed.connect(self.checkout.on_order)
        # (demo mode starts on the first demo profile; scanned codes go to one that
        # takes them: Counter.micropay_route)
        profile = self.settings.active_profile if self.settings.active_profile in self.counter.profiles() \
            else ctx.active_profile
        self.set_profile(profile)
        if ctx.demo and ctx.sim_client is not None:
            from cashier.ui.demo import CustomerPanel

            self.customer = CustomerPanel(self)
            self.customer_holder.addWidget(self.customer)
            self.status_conn.setText(tr("ui.status.demo"))
        problems = getattr(ctx, "problems", None) or {}
        if problems:  # e.g. a profile whose key is no longer in the keyring: say so, and stay
            text = tr("ui.profile_problem", text="；".join(f"{profile_title(n)}：{why}" for n, why in problems.items()))
            self.status_note.setText(text)
            if not self.counter.profiles():
                self.checkout._say(text)
        from cashier.books import Books

        self.books = Books(ctx.engine, peripherals=_drawer(self.settings), drawer_in_background=True)
        self.show_clerk()
        self.refresh_attention()
        for page in self._lazy_pages.values():
            if page is not None and hasattr(page, "context_changed"):
                page.context_changed()
        self._start_devices()
        # The QR, waiting and result panels next, while the clerk types the first amount.
        QTimer.singleShot(0, self.checkout.ensure_pages)
        self.context_ready.emit(ctx)

    def _start_devices(self) -> None:
        """The printer queue, voice and the customer display (a second screen only)."""
        from cashier.ui.customer_display import open_customer_display

        if not getattr(self, "_device_signal_connected", False):
            self.device_message.connect(self.flash)
            self._device_signal_connected = True
        self.counter.start_peripherals(self.settings, on_message=self.device_message.emit)
        old = getattr(self, "customer_display", None)
        if old is not None:
            self.checkout.customer_view.disconnect(old.show_view)
            old.close()
            old.deleteLater()
        self.customer_display = open_customer_display(self.settings, self)
        if self.customer_display is not None:
            self.checkout.customer_view.connect(self.customer_display.show_view)

    def set_profile(self, profile: str | None) -> None:
        self.checkout.set_counter(self.counter, profile)
        self.status_profile.setText(tr("ui.status.profile", name=profile_title(profile)) if profile
                                    else tr("ui.status.no_profile"))

    def _set_online(self, ok: bool) -> None:
        if self.ctx is not None and self.ctx.demo:
            self.status_conn.setText(tr("ui.status.demo"))
        else:
            self.status_conn.setText(tr("ui.status.online") if ok else tr("ui.status.offline"))

    # ------------------------------------------------------------------ shared bits
    def flash(self, text: str) -> None:
        """A passing note in the status bar (cleared after a while)."""
        if not self.built:
            self._notes.append(text)
            return
        self.status_note.setText(text)
        if not hasattr(self, "_flash_timer"):
            self._flash_timer = QTimer(self)
            self._flash_timer.setSingleShot(True)
            self._flash_timer.timeout.connect(lambda: self.status_note.setText(""))
        self._flash_timer.start(10000)

    def refresh_attention(self) -> None:
        if self.engine is None:
            return
        page = self._lazy_pages["attention"]
        if page is not None:
            page.refresh()
            return
        counter = self.counter
        self.workers.run(counter.attention_count, self.set_attention_count, lambda exc: None)

    def set_attention_count(self, n: int) -> None:
        self.status_pending.setText(tr("ui.status.pending", n=n))
        self._set_nav_text("attention", tr("ui.nav.attention_n", n=n) if n else tr("ui.nav.attention"))

    def _scan_scope(self, obj) -> bool:
        """Keys may be a scan only on the checkout, with no dialog open."""
        if QApplication.activeModalWidget() is not None or QApplication.activePopupWidget() is not None:
            return False
        if self.pages.currentWidget() is not self.checkout:
            return False
        w = obj
        while w is not None:
            if w is self.checkout:
                return True
            w = w.parentWidget()
        return obj is self

    def _on_scan(self, scan) -> None:
        self.checkout.on_scan(scan)

    def open_order(self, out_trade_no: str) -> None:
        """Show one order in 订单/退款 (a receipt's code was scanned)."""
        page = self.show_page("history")
        page.search.setText(out_trade_no)
        page.run_search()

    def micropay_profile(self) -> str | None:
        """Where a payment code goes when the active profile takes none: the one
        chosen in settings, else (demo mode) the first demo profile that can."""
        if self.counter is None:
            return None
        return self.counter.micropay_route(getattr(self.settings, "micropay_profile", None))

    def micropay_profiles(self) -> list[str]:
        """The usable profiles that take payment codes (付款码)."""
        return self.counter.micropay_profiles() if self.counter is not None else []

    def use_profile(self, name: str) -> None:
        """Make `name` the profile in use (the checkout's switcher, settings); a
        shop's choice is remembered, a demo's is not."""
        from cashier.i18n import UserError

        if self.counter is None or name not in self.counter.profiles():
            return
        self.set_profile(name)
        self.flash(tr("ui.profile_switched", name=profile_title(name)))
        if not self.ctx.demo:
            from cashier.profiles import ProfileStore
            from cashier.settings import SettingsStore

            try:
                ProfileStore().set_active(name)
                self.apply_settings(SettingsStore().update(active_profile=name))
            except UserError as exc:
                self.flash(exc.message())
        page = self._lazy_pages.get("settings")
        if page is not None:
            page.refresh_profiles()

    def show_first_run(self) -> None:
        from cashier.ui.firstrun import FirstRunPage

        self.first_run = FirstRunPage(self)
        self.first_run.setProperty("page", "first_run")
        self.pages.addWidget(self.first_run)
        self.pages.setCurrentWidget(self.first_run)
        self._uncheck_nav()
        self.status_conn.setText("")
        for button in self.nav_buttons.values():
            button.setEnabled(False)
        # Alt+1…5 still open the pages: Alt+0 is the way back here, and the checkout
        # says there is no merchant (not "connecting", which never ends).
        if getattr(self, "welcome_key", None) is None:
            from PySide6.QtGui import QKeySequence, QShortcut

            self.welcome_key = QShortcut(QKeySequence("Alt+0"), self, activated=self.show_welcome)
        self.welcome_key.setEnabled(True)
        self.checkout.set_no_merchant(True)

    def _uncheck_nav(self) -> None:
        """No page of the menu is shown (the welcome page): none looks chosen."""
        self.nav_group.setExclusive(False)
        for button in self.nav_buttons.values():
            button.setChecked(False)
        self.nav_group.setExclusive(True)

    def show_welcome(self) -> None:
        """Alt+0 during the first run: back to the welcome page (demo or a profile)."""
        page = getattr(self, "first_run", None)
        if page is not None:
            self.pages.setCurrentWidget(page)
            self._uncheck_nav()
            (page.demo_button if page.pin.isHidden() else page.pin.pin1).setFocus()

    def _leave_first_run(self) -> None:
        page = getattr(self, "first_run", None)
        if page is not None:
            self.pages.removeWidget(page)
            page.deleteLater()
            self.first_run = None
        for button in self.nav_buttons.values():
            button.setEnabled(True)
        if getattr(self, "welcome_key", None) is not None:
            self.welcome_key.setEnabled(False)
        self.checkout.set_no_merchant(False)

    def start_demo(self) -> None:
        self._leave_first_run()
        self.demo = True
        self.setWindowTitle(tr("ui.title_demo"))
        self.show_page("checkout")
        self.start_context()

    def add_first_profile(self) -> None:
        self._leave_first_run()
        self.start_context()
        page = self.show_page("settings")
        page.add_profile()

    def _customer_pays(self) -> None:
        panel = getattr(self, "customer", None)
        if panel is not None:
            panel.pay_shown()

    def apply_settings(self, settings) -> None:
        kiosk_changed = bool(getattr(self.settings, "kiosk", False)) != bool(settings.kiosk)
        display_changed = (self.settings.customer_display, self.settings.customer_display_screen,
                           self.settings.shop_name, self.settings.customer_display_slogan) != (
            settings.customer_display, settings.customer_display_screen, settings.shop_name,
            settings.customer_display_slogan)
        self.settings = settings
        if self.counter is not None:
            if display_changed:
                self._start_devices()
            else:
                self.counter.start_peripherals(settings)
        if kiosk_changed and self.isVisible():
            self.show_on_screen()
        self.scanner.set_config(settings.scanner_config())
        if self.engine is not None:
            self.engine.settings.qr_expiry_seconds = float(settings.qr_expiry_seconds)
            if settings.active_profile in self.counter.profiles():
                self.set_profile(settings.active_profile)
            else:
                self.set_profile(self.checkout.profile)  # the payment-code route may have changed

    # ------------------------------------------------------------ the back office
    def show_clerk(self) -> None:
        """The clerk's name on the checkout's status bar (or that no shift is open)."""
        shift = self.books.current_shift() if self.books is not None else None
        self.status_clerk.setText(tr("ui.status.clerk", clerk=shift.clerk, shift_id=shift.shift_id) if shift
                                  else tr("ui.status.no_shift"))

    def _ensure_shift(self, then) -> None:
        from cashier.ui.books_dialogs import ShiftOpenDialog

        if self.books.current_shift() is not None:
            then()
            return
        self.shift_dialog = dialog = ShiftOpenDialog(self.books, self)
        dialog.accepted.connect(lambda: (self.show_clerk(), then()))
        dialog.open()

    def cash_sale(self) -> None:
        """The cash key (F10): the amount typed on the checkout, paid in cash."""
        if not self._books_ready():
            return
        amount = self.checkout._parsed_amount()
        if amount is None:
            return
        from cashier.ui.books_dialogs import CashDialog

        def ask() -> None:
            self.cash_dialog = dialog = CashDialog(self.books, amount, self)
            dialog.accepted.connect(lambda: self._cash_done(dialog.sale))
            dialog.open()

        self._ensure_shift(ask)

    def cash_move(self) -> None:
        """备用金 / 取款 (Shift+F10): cash into or out of the drawer, with a reason."""
        if not self._books_ready():
            return
        from cashier.ui.books_dialogs import CashMoveDialog

        def ask() -> None:
            from cashier.money import format_yuan

            self.move_dialog = dialog = CashMoveDialog(self.books, self)
            def done() -> None:
                entry = dialog.entry
                if dialog.refunding:
                    self.flash(tr("ui.move.refunded", amount=format_yuan(abs(entry.amount)), sale=dialog.sale.text()))
                else:
                    self.flash(tr("ui.move.done", amount=format_yuan(entry.amount), reason=entry.reason))

            dialog.accepted.connect(done)
            dialog.open()

        self._ensure_shift(ask)

    def _books_ready(self) -> bool:
        """F10, Shift+F10, F11, F12 need the books: without them, say why (they
        did nothing, silently, on the first run)."""
        if self.books is not None:
            return True
        if getattr(self, "first_run", None) is not None or self.checkout.no_merchant:
            text = tr("ui.books_no_merchant")
        else:
            text = tr("ui.books_not_ready")
        if self.pages.currentWidget() is self.checkout:
            self.checkout._say(text)  # where the clerk looks
        else:
            self.flash(text)
        return False

    def _cash_done(self, sale) -> None:
        from cashier.money import format_yuan

        text = tr("ui.cash.done", amount=format_yuan(sale.amount), change=format_yuan(sale.change),
                  no=sale.out_trade_no)
        self.checkout.new_checkout()
        self.checkout._say(text, note=True)  # done, not a refusal: not in the error's red
        self.flash(text)

    def close_shift(self) -> None:
        """交班 (F11): the shift's report, the count, and the next clerk if any."""
        if not self._books_ready():
            return
        from cashier.ui.books_dialogs import ShiftCloseDialog

        if self.books.current_shift() is None:
            self._ensure_shift(lambda: None)
            return
        self.close_dialog = dialog = ShiftCloseDialog(self.books, self)
        dialog.accepted.connect(self.show_clerk)
        dialog.open()

    def reconcile(self) -> None:
        """对账 (F12): a day's orders of a profile asked again at the gateway."""
        if not self._books_ready():
            return
        from cashier.ui.books_dialogs import ReconcileDialog

        self.recon_dialog = dialog = ReconcileDialog(self.books, self.counter.profiles(), self)
        dialog.open()

    def refuse_close(self) -> bool:
        """True (and says why) while a payment or refund is in flight: the window system
        or an installer asking the counter to close is refused until it is done."""
        if self.counter is None:
            return False
        try:
            orders, refunds = self.counter.in_flight()
        except Exception:  # the books cannot be read: nothing to protect by staying
            return False
        if not orders and not refunds:
            return False
        self.flash(tr("ui.close_busy", count=len(orders) + len(refunds)))
        return True

    def closeEvent(self, event) -> None:  # noqa: N802
        if event.spontaneous() and self.refuse_close():  # from the window system, not the app itself
            event.ignore()
            return
        if (self.ask_handover_on_close and self.books is not None and self.isVisible()
                and not getattr(self, "_handover_asked", False)):
            from cashier.ui.books_dialogs import ask_handover

            try:
                shift_open = self.books.current_shift() is not None
            except Exception:  # the books are unreadable: never hold the window open for it
                shift_open = False
            if shift_open:
                self._handover_asked = True
                if not ask_handover(self, self.books):
                    self._handover_asked = False
                    event.ignore()
                    return
        if self.built:  # closed before its pages were built: no filters yet
            QApplication.instance().removeEventFilter(self.scanner)
            QApplication.instance().removeEventFilter(self.dialog_activator)
        super().closeEvent(event)

    def reload_context(self) -> None:
        """Profiles changed: close the engine and open it again (off the GUI thread).
        On the first run (no context yet): a profile was added in 设置, so leave the
        welcome page and open the books with it."""
        if self.ctx is None and getattr(self, "first_run", None) is not None:
            self._leave_first_run()
            self.status_conn.setText(tr("ui.status.connecting"))
            self.start_context()
            return
        if self.ctx is None or self.ctx.demo:
            return
        if self.counter is not None:
            self.counter.close_peripherals()
        old, self.ctx, self.engine, self.counter = self.ctx, None, None, None
        if self.bridge is not None:
            self.bridge.deleteLater()
            self.bridge = None
        self.checkout.set_counter(None, None)
        self.status_conn.setText(tr("ui.status.connecting"))

        def reopen():
            old.close()
            from cashier.services import open_context

            return open_context(demo=False, start=False, exclusive=True)

        self.workers.run(reopen, self._context_opened, self._context_failed)

    def shutdown(self) -> None:
        """Wait for workers, then close the context (engine, ledger, simulator)."""
        self.workers.wait(20000)
        if getattr(self, "customer_display", None) is not None:
            self.customer_display.close()
        if self.counter is not None:
            self.counter.close_peripherals()
        if self.ctx is not None:
            try:
                self.ctx.close()
            except Exception:
                _log().exception("closing the context failed")
            self.ctx = None
