"""The counter's own settings (not a merchant's: those are profiles + keyring).

A JSON file at `cashier.paths.settings_path()`, written atomically (temp file, fsync,
rename). Every value is validated on the way in and on the way out, with messages in
Chinese and English. The manager PIN is kept only as a salted PBKDF2 hash and checked
in constant time; there is no default PIN: until a manager sets one, refunds ask for it
to be set first.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from cashier import paths
from cashier.i18n import UserError, define
from cashier.scanner import SUFFIXES, ScannerConfig

define({
    "settings.bad_language": ("语言只能是：自动、中文或 English", "Language must be auto, Chinese or English"),
    "settings.bad_counter_id": ("收银台编号为 1 到 4 个字母或数字", "The counter id is 1 to 4 letters or digits"),
    "settings.bad_qr_expiry": ("二维码有效期必须在 {low} 到 {high} 秒之间", "The QR expiry must be {low} to {high} seconds"),
    "settings.bad_scanner": ("扫码枪设置无效：{reason}", "Invalid scanner setting: {reason}"),
    "settings.bad_port": ("通知端口必须在 1024 到 65535 之间", "The notification port must be 1024 to 65535"),
    "settings.bad_path": ("通知路径必须以 / 开头，只含字母、数字和 - _ . /", "The notification path must start with / and hold only letters, digits and - _ . /"),
    "settings.bad_kiosk": ("全屏设置只能是开或关", "Full screen is either on or off"),
    "settings.bad_profile": ("当前商户配置名称无效", "Invalid active profile name"),
    "settings.bad_pin": ("店长密码为 4 到 8 位数字", "The manager PIN is 4 to 8 digits"),
    "settings.pin_not_set": ("还没有设置店长密码：退款前请店长先在“设置”里设置", "No manager PIN is set yet: a manager must set one in Settings before refunds"),
    "settings.pin_wrong": ("店长密码不正确", "Wrong manager PIN"),
    "settings.corrupt": ("设置文件损坏：{path}（无法读取的设置已恢复默认，保存后将覆盖）",
                         "The settings file is damaged: {path} (settings that cannot be read are back to their defaults;"
                         " saving overwrites it)"),
    "settings.bad_shop": ("店名最多 40 个字", "The shop name is at most 40 characters"),
    "settings.bad_printer": ("打印机地址无效", "Invalid printer address"),
    "settings.bad_paper": ("纸宽只能是 58 或 80 毫米", "The paper width must be 58 or 80 mm"),
    "settings.bad_encoding": ("打印机编码只能是 gb18030、gbk 或 utf-8", "The printer encoding must be gb18030, gbk or utf-8"),
    "settings.bad_words": ("播报词必须包含 {amount}，最多 40 个字", "The words must contain {amount}, at most 40 characters"),
    "settings.bad_flag": ("开关设置只能是开或关", "A switch setting must be on or off"),
    "settings.bad_copies": ("打印份数为 1 到 3", "Copies must be 1 to 3"),
    "settings.bad_volume": ("音量为 0 到 100", "The volume must be 0 to 100"),
    "settings.bad_screen": ("客显屏幕编号无效", "Invalid customer display screen"),
    "settings.unknown": ("未知的设置项：{name}", "Unknown setting: {name}"),
    "settings.bad_ledger_url": (
        "账本地址无效：{url}（留空表示本机账本文件，或 postgresql://用户@主机[:端口]/数据库）",
        "Invalid ledger URL: {url} (empty for this computer's ledger file, or postgresql://user@host[:port]/database)",
    ),
    "settings.ledger_url_password": (
        "账本地址里不能写密码：数据库密码请用 cashier-cli ledger password 存进系统钥匙串",
        "The ledger URL may not hold a password: store the database password in the system keyring with cashier-cli ledger password",
    ),
})

LEDGER_URL_ENV = "CASHIER_LEDGER_URL"

LANGUAGES = ("auto", "zh_CN", "en")
PIN_ITERATIONS = 200_000
_COUNTER_RE = re.compile(r"^[A-Za-z0-9]{1,4}$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9_./-]{0,120}$")
_PIN_RE = re.compile(r"^[0-9]{4,8}$")


class SettingsError(UserError):
    key = "settings.corrupt"


class PinNotSet(UserError):
    key = "settings.pin_not_set"


@dataclass(frozen=True)
class PinHash:
    salt: str  # hex
    hash: str  # hex
    iterations: int = PIN_ITERATIONS

    @classmethod
    def make(cls, pin: str, *, iterations: int = PIN_ITERATIONS) -> "PinHash":
        if not isinstance(pin, str) or not _PIN_RE.match(pin):
            raise UserError("settings.bad_pin")
        import hashlib
        import secrets

        salt = secrets.token_bytes(16)
        digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
        return cls(salt.hex(), digest.hex(), iterations)

    def verify(self, pin: str) -> bool:
        import hashlib
        import hmac

        digest = hashlib.pbkdf2_hmac("sha256", str(pin).encode(), bytes.fromhex(self.salt), self.iterations)
        return hmac.compare_digest(digest, bytes.fromhex(self.hash))

    def to_dict(self) -> dict[str, Any]:
        return {"salt": self.salt, "hash": self.hash, "iterations": self.iterations}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PinHash":
        salt, digest, iterations = str(data["salt"]), str(data["hash"]), int(data["iterations"])
        bytes.fromhex(salt), bytes.fromhex(digest)
        if len(salt) < 16 or len(digest) != 64 or iterations < 10_000:
            raise ValueError("weak or malformed PIN hash")
        return cls(salt, digest, iterations)


@dataclass(frozen=True)
class Settings:
    language: str = "auto"
    counter_id: str = "01"
    qr_expiry_seconds: int = 300
    scanner_max_gap_ms: int = 50
    scanner_min_length: int = 16
    scanner_suffix: str = "auto"
    manager_pin: PinHash | None = None
    active_profile: str | None = None
    notify_enabled: bool = False
    notify_port: int = 8765
    notify_path: str = "/notify"
    kiosk: bool = False  # full screen, no window frame
    micropay_profile: str | None = None  # where a payment code goes when the active profile takes none
    # Peripherals (cashier.peripherals): receipt printer, cash drawer, voice, customer display.
    shop_name: str = ""
    printer_url: str = ""
    printer_paper_mm: int = 58
    printer_encoding: str = "gb18030"
    printer_copies: int = 1
    auto_print: bool = False
    cash_drawer: bool = True
    voice_enabled: bool = False
    voice_volume: int = 80
    voice_words: dict = dataclasses.field(default_factory=dict)
    customer_display: bool = True
    customer_display_screen: int = -1  # -1: the first screen that is not the clerk's
    customer_display_slogan: str = ""
    # Where the books are: "" is this computer's SQLite file; postgresql://user@host/db
    # shares one set of books between counters (CASHIER_LEDGER_URL overrides it).
    ledger_url: str = ""

    def __post_init__(self) -> None:
        validate(self)

    # -- derived ----------------------------------------------------------------
    @property
    def has_pin(self) -> bool:
        return self.manager_pin is not None

    def scanner_config(self) -> ScannerConfig:
        return ScannerConfig(max_gap_ms=self.scanner_max_gap_ms, min_length=self.scanner_min_length,
                             suffix=self.scanner_suffix)

    def replace(self, **changes: Any) -> "Settings":
        names = {f.name for f in dataclasses.fields(self)}
        for name in changes:
            if name not in names:
                raise UserError("settings.unknown", name=name)
        return dataclasses.replace(self, **changes)

    def with_pin(self, pin: str) -> "Settings":
        return dataclasses.replace(self, manager_pin=PinHash.make(pin))

    def verify_pin(self, pin: str) -> bool:
        """True when `pin` is the manager's. Raises PinNotSet when none was set."""
        if self.manager_pin is None:
            raise PinNotSet()
        return self.manager_pin.verify(pin)

    # -- JSON -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["manager_pin"] = self.manager_pin.to_dict() if self.manager_pin else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Settings":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        pin = values.get("manager_pin")
        values["manager_pin"] = PinHash.from_dict(pin) if pin else None
        return cls(**values)


def validate(s: Settings) -> None:
    if s.language not in LANGUAGES:
        raise UserError("settings.bad_language")
    if not isinstance(s.counter_id, str) or not _COUNTER_RE.match(s.counter_id):
        raise UserError("settings.bad_counter_id")
    if type(s.qr_expiry_seconds) is not int or not 60 <= s.qr_expiry_seconds <= 7200:
        raise UserError("settings.bad_qr_expiry", low=60, high=7200)
    if type(s.scanner_max_gap_ms) is not int or type(s.scanner_min_length) is not int \
            or s.scanner_suffix not in SUFFIXES:
        raise UserError("settings.bad_scanner", reason=f"{s.scanner_max_gap_ms}/{s.scanner_min_length}/{s.scanner_suffix}")
    try:
        ScannerConfig(max_gap_ms=s.scanner_max_gap_ms, min_length=s.scanner_min_length, suffix=s.scanner_suffix)
    except UserError as exc:
        raise UserError("settings.bad_scanner", reason=exc.message()) from None
    if s.manager_pin is not None and not isinstance(s.manager_pin, PinHash):
        raise UserError("settings.bad_pin")
    if s.active_profile is not None and (not isinstance(s.active_profile, str) or not 1 <= len(s.active_profile) <= 40):
        raise UserError("settings.bad_profile")
    if type(s.kiosk) is not bool:
        raise UserError("settings.bad_kiosk")
    if s.micropay_profile is not None and (not isinstance(s.micropay_profile, str)
                                           or not 1 <= len(s.micropay_profile) <= 40):
        raise UserError("settings.bad_profile")
    if type(s.notify_enabled) is not bool:
        raise UserError("settings.bad_port")
    if type(s.notify_port) is not int or not 1024 <= s.notify_port <= 65535:
        raise UserError("settings.bad_port")
    if not isinstance(s.notify_path, str) or not _PATH_RE.match(s.notify_path) or ".." in s.notify_path:
        raise UserError("settings.bad_path")
    check_ledger_url(s.ledger_url)
    _validate_peripherals(s)


def check_ledger_url(url: object) -> str:
    """`url` when it names a ledger the app can open: "" (the SQLite file in the data
    folder), sqlite:///path/to/file, or postgresql://user@host[:port]/database (also
    postgres://). A password in it is refused: it belongs in the keyring."""
    from urllib.parse import urlsplit

    if not isinstance(url, str) or len(url) > 500 or any(c.isspace() for c in url):
        raise UserError("settings.bad_ledger_url", url=str(url)[:80])
    if not url:
        return url
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise UserError("settings.bad_ledger_url", url=url) from None
    if parts.scheme == "sqlite":
        if parts.netloc or not parts.path or parts.query:
            raise UserError("settings.bad_ledger_url", url=url)
        return url
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or parts.fragment:
        raise UserError("settings.bad_ledger_url", url=url)
    if parts.password is not None or "password=" in parts.query.lower():
        raise UserError("settings.ledger_url_password")
    if not parts.path.strip("/") or "/" in parts.path.strip("/"):
        raise UserError("settings.bad_ledger_url", url=url)
    return url


def ledger_url(settings: "Settings | None" = None) -> str:
    """The ledger this process uses: CASHIER_LEDGER_URL when set (checked like the
    setting), else the `ledger_url` setting; "" is the SQLite file in the data folder."""
    import os

    env = os.environ.get(LEDGER_URL_ENV)
    if env is not None and env.strip():
        return check_ledger_url(env.strip())
    if settings is None:
        settings = SettingsStore().load_or_default()[0]
    return settings.ledger_url


def _validate_peripherals(s: Settings) -> None:
    # The printer and voice modules are imported only for values that need them: the
    # window's start-up reads the settings before its first frame.
    for text in (s.shop_name, s.customer_display_slogan):
        if not isinstance(text, str) or len(text) > 40:
            raise UserError("settings.bad_shop")
    if not isinstance(s.printer_url, str):
        raise UserError("settings.bad_printer")
    if s.printer_url:
        from cashier.peripherals.printer import parse_printer_url

        parse_printer_url(s.printer_url)
    if type(s.printer_paper_mm) is not int or s.printer_paper_mm not in (58, 80):
        raise UserError("settings.bad_paper")
    if s.printer_encoding not in ("gb18030", "gbk", "utf-8"):
        raise UserError("settings.bad_encoding")
    if type(s.printer_copies) is not int or not 1 <= s.printer_copies <= 3:
        raise UserError("settings.bad_copies")
    for flag in (s.auto_print, s.cash_drawer, s.voice_enabled, s.customer_display):
        if type(flag) is not bool:
            raise UserError("settings.bad_flag")
    if type(s.voice_volume) is not int or not 0 <= s.voice_volume <= 100:
        raise UserError("settings.bad_volume")
    if not isinstance(s.voice_words, dict):
        raise UserError("settings.bad_words")
    if s.voice_words:
        from cashier.peripherals.voice import WALLETS, valid_words

        if any(k not in WALLETS or not valid_words(v) for k, v in s.voice_words.items()):
            raise UserError("settings.bad_words")
    if type(s.customer_display_screen) is not int or not -1 <= s.customer_display_screen <= 8:
        raise UserError("settings.bad_screen")


class SettingsStore:
    """Load and save `Settings` as JSON, atomically."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.settings_path()

    def load(self) -> Settings:
        """The saved settings, or defaults when none were saved. Raises SettingsError
        for a damaged file (the caller may go on with `Settings()`)."""
        if not self.path.exists():
            return Settings()
        try:
            data = json.loads(self.path.read_text("utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not an object")
            return Settings.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError, UserError):
            raise SettingsError(path=str(self.path)) from None

    def load_or_default(self) -> tuple[Settings, SettingsError | None]:
        """The saved settings; for a damaged file, every setting in it that is valid on
        its own over the defaults, and the error. One bad value must not silently move
        this counter to another ledger (ledger_url) or another counter id."""
        try:
            return self.load(), None
        except SettingsError as exc:
            return self._salvage(), exc

    def _salvage(self) -> Settings:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return Settings()
        settings = Settings()
        if not isinstance(data, dict):
            return settings
        known = {f.name for f in dataclasses.fields(Settings)}
        for key, value in data.items():
            if key not in known:
                continue
            try:
                if key == "manager_pin":
                    value = PinHash.from_dict(value) if value else None
                settings = settings.replace(**{key: value})
            except (UserError, ValueError, KeyError, TypeError):
                continue
        return settings

    def save(self, settings: Settings) -> Settings:
        validate(settings)
        paths.write_json_atomically(self.path, settings.to_dict())
        return settings

    def update(self, **changes: Any) -> Settings:
        return self.save(self.load().replace(**changes))

    def set_pin(self, pin: str, *, current: str | None = None) -> Settings:
        """Set the manager PIN. Changing an existing one needs the current one."""
        settings = self.load()
        if settings.manager_pin is not None and not settings.verify_pin(current or ""):
            raise UserError("settings.pin_wrong")
        return self.save(settings.with_pin(pin))


def load() -> Settings:
    """The saved settings, or the defaults when the file is missing or damaged."""
    return SettingsStore().load_or_default()[0]
