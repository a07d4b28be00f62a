"""Where the app keeps its files.

`CASHIER_HOME`, when set, holds every file the app writes (config, database, logs).
Otherwise the platform's user directories (platformdirs) are used.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "cashier"
APP_AUTHOR = "cashier"


def _home() -> Path | None:
    value = os.environ.get("CASHIER_HOME")
    return Path(value).expanduser() if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    home = _home()
    if home is not None:
        return _ensure(home / "config")
    import platformdirs

    return _ensure(Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR)))


def data_dir() -> Path:
    home = _home()
    if home is not None:
        return _ensure(home / "data")
    import platformdirs

    return _ensure(Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR)))


def log_dir() -> Path:
    home = _home()
    if home is not None:
        return _ensure(home / "logs")
    import platformdirs

    return _ensure(Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR)))


def database_path() -> Path:
    return data_dir() / "ledger.sqlite3"


def profiles_path() -> Path:
    return config_dir() / "profiles.json"


def settings_path() -> Path:
    return config_dir() / "settings.json"
