"""Sending them: the worker pool, lanes and dispatch, and run_once (one bounded run)."""
