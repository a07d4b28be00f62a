"""Desktop cashier for Chinese shop counters: WeChat Pay and Alipay through aggregators."""


def __getattr__(name: str) -> str:
    # The version has one source: [project].version in pyproject.toml, read back from the
    # installed distribution's metadata (the frozen app carries a copy of it, written by
    # packaging/cashier.spec). Looked up lazily: importing cashier stays cheap.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("cashier")
        except PackageNotFoundError:  # a checkout put on sys.path without installing it
            return "0+unknown"
    raise AttributeError(f"module 'cashier' has no attribute {name!r}")
