"""The checkout: an amount panel, then a QR, waiting or result panel chosen by a
presenter (`presenter.present`) from the order's state."""

from cashier.ui.checkout.amount import METHODS, AmountEntry
from cashier.ui.checkout.page import CheckoutPage
from cashier.ui.checkout.texts import error_text, format_yuan, wallet_text

__all__ = ["METHODS", "AmountEntry", "CheckoutPage", "error_text", "format_yuan", "wallet_text"]
