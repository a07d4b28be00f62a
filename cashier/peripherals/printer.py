"""Receipts on ESC/POS thermal printers, through python-escpos (no Qt).

A printer is named by a URL (settings `printer_url`, or `--printer` on the CLI):

    tcp://192.168.1.50[:9100]      network printer (raw port 9100)
    usb://0416:5011                USB, vendor:product in hex (needs pyusb + libusb)
    serial:///dev/ttyUSB0?baud=9600, serial://COM3?baud=19200, or just COM3
    win32://Printer Name           the Windows spooler (pywin32, Windows only)
    cups://Printer Name            CUPS through `lp -o raw` (macOS, Linux)

Chinese printers take Chinese text in their own code page, in "Chinese mode"
(FS &): GB18030 by default, GBK or UTF-8 as a setting, because printers differ.
python-escpos's text encoder knows only single-byte code pages, so the text bytes are
encoded here and sent raw; everything else (styles, native QR, cut, drawer kick) is
the library's.

A slip is data first (`Slip`: a title, lines and an optional code), so it can wait in
the print queue as JSON and be rendered again for a reprint.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cashier.i18n import UserError, define, tr
from cashier.money import format_yuan

define({
    "printer.bad_url": ("打印机地址无效：{url}（例如 tcp://192.168.1.50:9100、usb://0416:5011、serial:///dev/ttyUSB0?baud=9600、COM3、win32://打印机名、cups://打印机名）",
                        "Invalid printer address: {url} (e.g. tcp://192.168.1.50:9100, usb://0416:5011, serial:///dev/ttyUSB0?baud=9600, COM3, win32://Printer, cups://Printer)"),
    "printer.none": ("还没有设置小票打印机", "No receipt printer is set"),
    "printer.unavailable": ("打印机连接不上（{url}）：{reason}", "Cannot reach the printer ({url}): {reason}"),
    "printer.missing_driver": ("这台电脑缺少 {what} 打印所需的组件（{module}）", "This computer lacks what {what} printing needs ({module})"),
    "printer.bad_encoding": ("打印机编码只能是 gb18030、gbk 或 utf-8", "The printer encoding must be gb18030, gbk or utf-8"),
    "printer.bad_width": ("纸宽只能是 58 或 80 毫米", "The paper width must be 58 or 80 mm"),
    "receipt.title.sale": ("收款小票", "Receipt"),
    "receipt.title.refund": ("退款单", "Refund slip"),
    "receipt.title.test": ("打印测试", "Printer test"),
    "receipt.title.report": ("日结单", "Day slip"),
    "receipt.shop": ("门店", "Shop"),
    "receipt.counter": ("收银台", "Counter"),
    "receipt.clerk": ("收银员", "Clerk"),
    "receipt.time": ("时间", "Time"),
    "receipt.amount": ("金额", "Amount"),
    "receipt.paid": ("实付", "Paid"),
    "receipt.wallet": ("支付方式", "Paid with"),
    "receipt.gateway": ("收款通道", "Gateway"),
    "receipt.order_no": ("订单号", "Order no."),
    "receipt.refund_no": ("退款单号", "Refund no."),
    "receipt.refund_amount": ("退款金额", "Refunded"),
    "receipt.reason": ("原因", "Reason"),
    "receipt.thanks": ("谢谢惠顾", "Thank you"),
    "receipt.test_line": ("中文打印正常：收银台 ¥12.50", "Chinese text check: 收银台 ¥12.50"),
    "receipt.test_width": ("纸宽 {width} 毫米，每行 {columns} 字符，编码 {encoding}",
                           "Paper {width} mm, {columns} columns, encoding {encoding}"),
    "receipt.wallet.wechat": ("微信支付", "WeChat Pay"),
    "receipt.wallet.alipay": ("支付宝", "Alipay"),
    "receipt.wallet.unionpay": ("云闪付", "UnionPay"),
    "receipt.wallet.qq": ("QQ钱包", "QQ Wallet"),
    "receipt.wallet.cash": ("现金", "Cash"),
    "receipt.wallet.unknown": ("扫码支付", "QR payment"),
    "receipt.scan_hint": ("扫描此码可查单、退款", "Scan this code to find the order"),
})

ENCODINGS = ("gb18030", "gbk", "utf-8")
PAPER_COLUMNS = {58: 32, 80: 48}  # font A (12 x 24 dots): 384 and 576 dots a line
DEFAULT_PORT = 9100
CONNECT_TIMEOUT = 3.0

# ESC/POS bytes python-escpos has no call for: FS & enters Chinese (double-byte) mode,
# FS . leaves it. Printers without a Chinese font ignore both.
_FS_CHINESE_ON = b"\x1c\x26"
_FS_CHINESE_OFF = b"\x1c\x2e"


class PrinterError(UserError):
    """The printer could not be reached or refused the job: the slip stays queued."""


@dataclass(frozen=True)
class PrinterTarget:
    kind: str  # tcp | usb | serial | win32 | cups
    address: str  # host, "VID:PID", device path or printer name
    port: int = DEFAULT_PORT
    baud: int = 9600

    def label(self) -> str:
        if self.kind == "tcp":
            return f"tcp://{self.address}:{self.port}"
        return f"{self.kind}://{self.address}"


def parse_printer_url(url: str) -> PrinterTarget:
    """The printer a URL names. Raises UserError('printer.bad_url') for anything else."""
    text = (url or "").strip()
    bad = UserError("printer.bad_url", url=text)
    if not text:
        raise UserError("printer.none")
    upper = text.upper()
    if upper.startswith("COM") and upper[3:].isdigit():  # a bare Windows serial port
        return PrinterTarget("serial", upper)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "tcp":
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError:
            raise bad from None
        if not parts.hostname:
            raise bad
        return PrinterTarget("tcp", parts.hostname, port=port)
    if scheme == "usb":
        ids = (parts.netloc or parts.path.lstrip("/")).split(":")
        try:
            vid, pid = (int(v, 16) for v in ids)
        except ValueError:
            raise bad from None
        if not (0 <= vid <= 0xFFFF and 0 <= pid <= 0xFFFF):
            raise bad
        return PrinterTarget("usb", f"{vid:04x}:{pid:04x}")
    if scheme == "serial":
        device = unquote(parts.netloc + parts.path)
        query = parse_qs(parts.query)
        try:
            baud = int(query.get("baud", ["9600"])[0])
        except ValueError:
            raise bad from None
        if not device or baud not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
            raise bad
        return PrinterTarget("serial", device.upper() if device.upper().startswith("COM") else device, baud=baud)
    if scheme in ("win32", "cups"):
        name = unquote(parts.netloc + parts.path).strip("/")
        if not name:
            raise bad
        return PrinterTarget(scheme, name)
    raise bad


def connect(target: PrinterTarget, *, timeout: float = CONNECT_TIMEOUT):
    """An open python-escpos printer for `target`. Raises PrinterError when it can't be
    reached, or when this computer lacks the driver the connection needs."""
    try:
        from escpos import printer as escpos_printer
    except ImportError:
        raise PrinterError("printer.missing_driver", what="ESC/POS", module="python-escpos") from None
    try:
        if target.kind == "tcp":
            import socket

            device = escpos_printer.Network(target.address, port=target.port, timeout=timeout)
            # The library's own open() leaks its socket when the connect fails; connect here
            # and hand it the socket (its _raw/close use it as usual).
            device.device = socket.create_connection((target.address, target.port), timeout=timeout)
            return device
        elif target.kind == "usb":
            vid, pid = (int(v, 16) for v in target.address.split(":"))
            device = escpos_printer.Usb(vid, pid, timeout=int(timeout * 1000))
        elif target.kind == "serial":
            device = escpos_printer.Serial(target.address, baudrate=target.baud, timeout=timeout)
        elif target.kind == "win32":
            device = escpos_printer.Win32Raw(target.address)
        else:
            device = escpos_printer.LP(target.address)
        device.open()
    except PrinterError:
        raise
    except Exception as exc:  # the library raises its own and OS errors, or a missing backend
        reason = type(exc).__name__ if not str(exc) else str(exc).splitlines()[0][:120]
        if "not usable" in reason.lower() or "dependenc" in reason.lower():
            module = {"usb": "pyusb + libusb", "serial": "pyserial", "win32": "pywin32", "cups": "lp (CUPS)"}.get(target.kind, "")
            raise PrinterError("printer.missing_driver", what=target.kind, module=module) from None
        raise PrinterError("printer.unavailable", url=target.label(), reason=reason) from None
    return device


# ---------------------------------------------------------------------- the slip
@dataclass(frozen=True)
class Slip:
    """What goes on paper, independent of the printer: kept as JSON while queued."""

    kind: str  # sale | refund | test | report
    title: str
    header: list[str] = field(default_factory=list)  # centred lines under the title
    rows: list[tuple[str, str]] = field(default_factory=list)  # label, value
    big: str = ""  # the amount, printed double size
    code: str = ""  # printed as a QR code (an order number: scanning it finds the order)
    footer: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Slip":
        return cls(kind=str(data["kind"]), title=str(data["title"]),
                   header=[str(x) for x in data.get("header", [])],
                   rows=[(str(a), str(b)) for a, b in data.get("rows", [])],
                   big=str(data.get("big", "")), code=str(data.get("code", "")),
                   footer=[str(x) for x in data.get("footer", [])])


def display_width(text: str) -> int:
    """Columns a line takes on a thermal printer: CJK characters are two wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def fit(text: str, columns: int) -> list[str]:
    """Split a line into printer lines of at most `columns` columns."""
    lines, current, width = [], "", 0
    for ch in text:
        w = display_width(ch)
        if width + w > columns:
            lines.append(current)
            current, width = "", 0
        current += ch
        width += w
    lines.append(current)
    return lines


def row_lines(label: str, value: str, columns: int) -> list[str]:
    """"label      value", the value flush right; on two lines when it doesn't fit."""
    gap = columns - display_width(label) - display_width(value)
    if gap >= 1:
        return [label + " " * gap + value]
    return fit(label, columns) + [" " * max(0, columns - display_width(v)) + v for v in fit(value, columns)]


def render(device, slip: Slip, *, paper_mm: int = 58, encoding: str = "gb18030", copies: int = 1,
           cut: bool = True) -> None:
    """Send `slip` to an open python-escpos printer (a real one or `escpos.printer.Dummy`)."""
    if encoding not in ENCODINGS:
        raise UserError("printer.bad_encoding")
    if paper_mm not in PAPER_COLUMNS:
        raise UserError("printer.bad_width")
    columns = PAPER_COLUMNS[paper_mm]
    double_byte = encoding != "utf-8"

    def line(text: str = "") -> None:
        device._raw(text.encode(encoding, errors="replace") + b"\n")

    for _ in range(max(1, copies)):
        device.hw("INIT")
        if double_byte:
            device._raw(_FS_CHINESE_ON)
        device.set(align="center", bold=True, double_height=True, double_width=True)
        for part in fit(slip.title, columns // 2):
            line(part)
        device.set(align="center", bold=False, normal_textsize=True)
        for text in slip.header:
            for part in fit(text, columns):
                line(part)
        line("-" * columns)
        device.set(align="left", normal_textsize=True)
        for label, value in slip.rows:
            for part in row_lines(label, value, columns):
                line(part)
        if slip.big:
            line("-" * columns)
            device.set(align="center", bold=True, double_height=True, double_width=True)
            line(slip.big)
            device.set(align="center", bold=False, normal_textsize=True)
        if slip.code:
            line()
            device.set(align="center")
            # Native QR (GS ( k): the printer draws it, crisp at any size.
            device.qr(slip.code, size=6 if paper_mm == 80 else 5, native=True)
            line(slip.code)
        device.set(align="center", normal_textsize=True)
        for text in slip.footer:
            for part in fit(text, columns):
                line(part)
        if double_byte:
            device._raw(_FS_CHINESE_OFF)
        if cut:
            device.cut()


def print_slip(target: PrinterTarget, slip: Slip, *, paper_mm: int = 58, encoding: str = "gb18030",
               copies: int = 1, timeout: float = CONNECT_TIMEOUT) -> None:
    """Connect, print and close. Raises PrinterError when the printer can't take it."""
    device = connect(target, timeout=timeout)
    try:
        render(device, slip, paper_mm=paper_mm, encoding=encoding, copies=copies)
    except (UserError, PrinterError):
        raise
    except Exception as exc:
        raise PrinterError("printer.unavailable", url=target.label(), reason=str(exc)[:120] or type(exc).__name__) from None
    finally:
        try:
            device.close()
        except Exception:
            pass


def kick_drawer(target: PrinterTarget, *, pin: int = 2, timeout: float = CONNECT_TIMEOUT) -> None:
    """Open the cash drawer wired to the printer (the library's kick pulse)."""
    device = connect(target, timeout=timeout)
    try:
        device.cashdraw(pin)
    except Exception as exc:
        raise PrinterError("printer.unavailable", url=target.label(), reason=str(exc)[:120] or type(exc).__name__) from None
    finally:
        try:
            device.close()
        except Exception:
            pass


# ---------------------------------------------------------------------- slips from records
def _when(ts: float | None) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else ""


def _header(shop: str, counter: str, clerk: str | None) -> list[str]:
    lines = [shop] if shop else []
    who = f"{tr('receipt.counter')} {counter}"
    if clerk:
        who += f"  {tr('receipt.clerk')} {clerk}"
    lines.append(who)
    return lines


def wallet_text(wallet: str) -> str:
    key = f"receipt.wallet.{wallet}"
    text = tr(key)
    return tr("receipt.wallet.unknown") if text == key else text


def gateway_text(gateway: str) -> str:
    """The gateway's own name in the reader's language ("蓝兔支付"), never its id."""
    from cashier import i18n
    from cashier.gateways import gateway_class

    try:
        cls = gateway_class(gateway)
    except Exception:
        return ""
    return (cls.title_en if i18n.language() == i18n.EN else cls.title_zh) or ""


def sale_slip(order, *, shop: str = "", clerk: str | None = None) -> Slip:
    """The receipt of a paid order (an `OrderRecord`)."""
    paid = order.paid_amount if order.paid_amount is not None else order.amount
    rows = [(tr("receipt.time"), _when(order.paid_at or order.created_at)),
            (tr("receipt.wallet"), wallet_text(order.wallet))]
    if gateway_text(order.gateway):
        rows.append((tr("receipt.gateway"), gateway_text(order.gateway)))
    if paid != order.amount:
        rows.append((tr("receipt.amount"), f"¥{format_yuan(order.amount)}"))
    rows.append((tr("receipt.order_no"), order.out_trade_no))
    return Slip(kind="sale", title=tr("receipt.title.sale"), header=_header(shop, order.counter_id, clerk),
                rows=rows, big=f"{tr('receipt.paid')} ¥{format_yuan(Decimal(paid))}", code=order.out_trade_no,
                footer=[tr("receipt.scan_hint"), tr("receipt.thanks")])


def refund_slip(refund, order, *, shop: str = "", clerk: str | None = None) -> Slip:
    rows = [(tr("receipt.time"), _when(refund.finished_at or refund.created_at)),
            (tr("receipt.order_no"), refund.out_trade_no),
            (tr("receipt.refund_no"), refund.out_refund_no)]
    if refund.reason:
        rows.append((tr("receipt.reason"), refund.reason))
    return Slip(kind="refund", title=tr("receipt.title.refund"),
                header=_header(shop, order.counter_id if order is not None else "", clerk), rows=rows,
                big=f"{tr('receipt.refund_amount')} ¥{format_yuan(refund.amount)}", code=refund.out_trade_no)


def test_slip(*, shop: str = "", counter: str = "", paper_mm: int = 58, encoding: str = "gb18030") -> Slip:
    import time

    return Slip(kind="test", title=tr("receipt.title.test"), header=_header(shop, counter, None),
                rows=[(tr("receipt.time"), _when(time.time()))],
                big="¥12.50",
                footer=[tr("receipt.test_line"),
                        tr("receipt.test_width", width=paper_mm, columns=PAPER_COLUMNS.get(paper_mm, "?"),
                           encoding=encoding)])


def report_slip(title: str, rows: list[tuple[str, str]], *, shop: str = "", counter: str = "",
                big: str = "") -> Slip:
    """A day or shift slip: whatever rows the report gives."""
    return Slip(kind="report", title=title, header=_header(shop, counter, None), rows=rows, big=big)
