"""Desktop cashier for Chinese shop counters: WeChat Pay and Alipay through aggregators."""

__version__ = "0.1.0"
