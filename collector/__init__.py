"""ig-collector: Instagram account insights for many accounts, fast, exact and resumable."""

__version__ = "0.1.0"
