"""Telling the user: the run summary table, the progress line and the plan report."""
