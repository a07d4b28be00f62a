"""The Qt face of the cashier. Only this package imports PySide6."""
