"""The embedded gateway simulator. `python -m cashier.sim [--port N]`."""
